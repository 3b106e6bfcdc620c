"""The on-disk glyph cache: later processes draw the same pixels without setting FreeType up again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitocr.synth.fonts import FontFile, find_family
from digitocr.synth.generate import TextImageGenerator, parse_generator_args
from digitocr.synth.glyphcache import SETTING

FAMILY = find_family("roboto-mono")


def roboto_mono() -> FontFile:
    assert FAMILY is not None, "fontpkg-roboto-mono is a dependency"
    return FontFile(FAMILY.primary, name=FAMILY.slug)


def masks(font: FontFile, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [font.render(text, height, 0.0, rng) for text in ("0123", "98765", "4") for height in (20, 33)]


def test_a_fresh_font_reads_its_glyphs_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, str(tmp_path))
    drawn = masks(roboto_mono())
    assert any(tmp_path.rglob("*.glyphs"))
    fresh = roboto_mono()
    assert all(np.array_equal(a, b) for a, b in zip(drawn, masks(fresh), strict=True))
    sizes = {size for size, _ in fresh._glyphs}
    assert not any(size in sizes for size, _ in fresh._fonts)  # no FreeType font was set up to draw them


def test_an_unreadable_cache_file_is_drawn_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, str(tmp_path))
    drawn = masks(roboto_mono())
    for path in tmp_path.rglob("*.glyphs"):
        path.write_bytes(path.read_bytes()[:-7])  # truncated pixels
    assert all(np.array_equal(a, b) for a, b in zip(drawn, masks(roboto_mono()), strict=True))


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    masks(roboto_mono())
    assert not any(tmp_path.rglob("*"))


def test_samples_are_the_same_bytes_with_a_cold_a_warm_or_no_cache(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    flags = ["-rs", "-num", "-fi", "-im", "L", "-rk", "-k", "5", "-d", "3", "-ft", "roboto-mono", "--seed", "5"]

    def pixels() -> list[bytes]:
        generator = TextImageGenerator(parse_generator_args(flags))
        return [generator.sample_array(generator.rng_at(index), index)[0].tobytes() for index in range(40)]

    monkeypatch.setenv(SETTING, "off")
    uncached = pixels()
    monkeypatch.setenv(SETTING, str(tmp_path))
    assert pixels() == uncached  # filling the cache
    assert pixels() == uncached  # reading it
