"""Fonts: discovery of installed packages, character maps, rendering contract, resolving specs."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from digitocr.errors import UserError
from digitocr.synth.fonts import (
    DEFAULT_FAMILIES,
    HELDOUT_FAMILIES,
    FontFile,
    GlyphSource,
    default_fonts,
    find_family,
    heldout_fonts,
    installed_families,
    resolve_fonts,
    specimen,
)


def family_file(slug: str) -> Path:
    return installed_families()[slug].primary


@pytest.fixture(scope="module")
def font_without_seven(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real font subset to every digit but 7: a font that lacks a glyph of the charset."""
    subset = pytest.importorskip("fontTools.subset")  # fonttools comes with matplotlib

    path = tmp_path_factory.mktemp("fonts") / "NoSeven.ttf"
    options = subset.Options()
    font = subset.load_font(str(family_file("share-tech")), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(ch) for ch in "012345689"])
    subsetter.subset(font)
    subset.save_font(font, str(path), options)
    return path


def test_default_and_heldout_sets_are_installed_and_disjoint() -> None:
    assert [font.name for font in default_fonts()] == list(DEFAULT_FAMILIES)
    assert [font.name for font in heldout_fonts()] == list(HELDOUT_FAMILIES)
    assert not set(DEFAULT_FAMILIES) & set(HELDOUT_FAMILIES)
    assert all(font.path.is_file() for font in default_fonts() + heldout_fonts())


@pytest.mark.parametrize("name", ["Orbitron", "orbitron", "Exo 2", "exo-2", "exo_2", "Press Start 2P"])
def test_families_are_found_by_display_name_or_slug(name: str) -> None:
    assert find_family(name) is not None


def test_render_returns_an_ink_mask_of_about_the_height_cropped_to_ink() -> None:
    font = FontFile(family_file("roboto-mono"))
    assert isinstance(font, GlyphSource)
    mask = font.render("1234", 40, 0.0, np.random.default_rng(0))
    assert mask.dtype == np.uint8 and abs(mask.shape[0] - 40) <= 2
    assert mask[:, 0].any() and mask[:, -1].any()  # horizontally tight
    assert mask.max() == 255 and mask.min() == 0


def gaps(mask: np.ndarray) -> int:
    """Empty columns inside the ink."""
    return int(np.count_nonzero(~mask.any(axis=0)))


def test_spacing_changes_the_gap_between_glyphs() -> None:
    font = FontFile(family_file("roboto-mono"))
    rng = np.random.default_rng(0)
    tight, normal, wide = (font.render("11", 40, spacing, rng) for spacing in (-4.0, 0.0, 6.0))
    assert gaps(wide) - gaps(normal) in (5, 6, 7)
    assert gaps(tight) < gaps(normal)
    assert wide.shape[1] - normal.shape[1] in (5, 6, 7)


def test_variable_fonts_vary_their_weight() -> None:
    font = FontFile(family_file("orbitron"))
    rng = np.random.default_rng(1)
    inks = {int(font.render("8", 40, 0.0, rng).sum()) for _ in range(20)}
    assert len(inks) > 3


def test_missing_finds_characters_outside_the_character_map(font_without_seven: Path) -> None:
    assert FontFile(font_without_seven).missing("0123456789") == {"7"}
    assert FontFile(family_file("orbitron")).missing("09½") == {"½"}
    assert FontFile(family_file("roboto")).missing("09½ ") == set()


def test_fonts_lacking_a_charset_glyph_are_skipped_with_a_warning(font_without_seven: Path) -> None:
    warnings: list[str] = []
    fonts = resolve_fonts([str(font_without_seven), "roboto"], "0123456789", warnings.append)
    assert [font.name for font in fonts] == ["roboto"]
    assert len(warnings) == 1 and "NoSeven" in warnings[0] and "7" in warnings[0]
    with pytest.raises(UserError, match="no font can draw"):
        resolve_fonts([str(font_without_seven)], "0123456789", warnings.append)


def test_resolve_accepts_paths_folders_families_and_default(tmp_path: Path, font_without_seven: Path) -> None:
    assert [f.name for f in resolve_fonts([str(family_file("teko"))], "0", print)] == ["Teko[wght]"]
    folder = font_without_seven.parent
    assert [f.name for f in resolve_fonts([str(folder)], "012", print)] == ["NoSeven"]
    assert len(resolve_fonts([], "0123456789", print)) == len(DEFAULT_FAMILIES)
    assert len(resolve_fonts(["heldout", "play"], "0", print)) == len(HELDOUT_FAMILIES)  # no duplicates


def test_unknown_font_says_how_to_list_fonts(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="digitocr fonts"):
        resolve_fonts(["no-such-family"], "0", print)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="not a font file"):
        resolve_fonts([str(tmp_path / "notes.txt")], "0", print)
    with pytest.raises(UserError, match="no font files"):
        resolve_fonts([str(tmp_path)], "0", print)


def test_bank_prefix_loads_a_glyph_bank(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Bank:
        name = "bank"

        def missing(self, chars: str) -> set[str]:
            return set()

        def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
            return np.full((height, 3 * len(text)), 255, np.uint8)

    loaded: list[Path] = []
    module = types.ModuleType("digitocr.synth.glyphs")
    module.load_bank = lambda path: loaded.append(path) or Bank()
    monkeypatch.setitem(sys.modules, "digitocr.synth.glyphs", module)
    fonts = resolve_fonts([f"bank:{tmp_path / 'game.bank'}"], "0123", print)
    assert loaded == [tmp_path / "game.bank"] and fonts[0].name == "bank"


def test_font_files_copy_without_their_caches() -> None:
    """Worker processes receive fonts through pickling's reduce protocol, which deepcopy exercises too."""
    import copy as copying

    font = FontFile(family_file("oswald"))
    font.render("12", 30, 0.0, np.random.default_rng(0))
    copy = copying.deepcopy(font)
    assert copy == font
    assert np.array_equal(copy.render("12", 30, 0.0, np.random.default_rng(0)),
                          font.render("12", 30, 0.0, np.random.default_rng(0)))


def test_specimen_has_a_row_per_font() -> None:
    fonts = default_fonts()[:3]
    picture = specimen(fonts, height=30)
    assert picture.mode == "L" and picture.height >= 3 * 30
