"""The general model's recipe: its labels look like screen numbers and are the same every run."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import numpy as np

from digitocr.synth.generate import parse_generator_args

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "general.py"
spec = importlib.util.spec_from_file_location("general_recipe", RECIPE)
assert spec is not None and spec.loader is not None
general = importlib.util.module_from_spec(spec)
spec.loader.exec_module(general)


def test_labels_use_the_charset_and_cover_the_number_formats() -> None:
    rng = np.random.default_rng(0)
    labels = [general.number_label(rng) for _ in range(3000)]
    assert all(label and set(label) <= set(general.CHARSET) for label in labels)
    patterns = [r"\d+", r"\d+\.\d+", r"\d{1,3}(,\d{3})+", r"-\d+(\.\d)?", r"\d+(\.\d)?%", r"\d+:\d\d(:\d\d)?(\.\d+)?",
                r"\d+/\d+", r"0\d+"]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, label) for label in labels), pattern


def test_the_label_file_is_the_same_every_run(tmp_path: Path) -> None:
    first = general.write_labels(tmp_path / "a.txt", count=500).read_bytes()
    assert first == general.write_labels(tmp_path / "b.txt", count=500).read_bytes()


def test_every_stream_is_valid_generator_options(tmp_path: Path) -> None:
    labels = general.write_labels(tmp_path / "labels.txt", count=50)
    for streams in (general.STREAMS, general.DOT_STREAMS):
        for flags, weight in streams:
            config = parse_generator_args(shlex.split(f"-i {shlex.quote(str(labels))} {flags}"))
            assert weight > 0 and config.strings_file == str(labels)
        assert abs(sum(weight for _, weight in streams) - 1.0) < 1e-9
    for source in ("dotfonts", "squared"):
        assert any(f"-ft {source}" in flags for flags, _ in general.DOT_STREAMS)
        assert not any(source in flags for flags, _ in general.STREAMS)  # the first stage stays as it was
