"""The real-data loop's last step: `fit --resume` continues an earlier fit with newly labelled crops, quickly,
and says how the model did before and after on the same holdout."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from real_data import SCREENS, SEED_RATIOS

from digitocr.cli import main
from digitocr.errors import UserError
from digitocr.fit import Continuation

RPM_BOX = "1754,242,1826,269"  # around regions.json's rpm box, as a person would draw it


def new_crops(folder: Path, work: Path) -> Path:
    """Ten newly labelled crops of the real screenshot: speed and RPM refined at five thresholds."""
    folder.mkdir()
    for threshold in (165, 175, 180, 190, 195):
        for name, box, label in (("speed", SEED_RATIOS, "151"), ("rpm", RPM_BOX, "4561")):
            out = work / f"{name}{threshold}"
            assert main(["refine", str(SCREENS / "test.png"), "-o", str(out), "--region", box,
                         "--invert", "yes", "--threshold", str(threshold)]) == 0
            (out / "test.png").rename(folder / f"{label}_{name}{threshold}.png")
    return folder


@pytest.mark.slow
def test_fit_resumed_with_ten_new_crops_reports_before_and_after_within_a_minute(
        tmp_path: Path, seed_fit: Path, capsys) -> None:
    new = new_crops(tmp_path / "new", tmp_path / "work")
    started = time.monotonic()
    assert main(["fit", str(new), "-o", str(tmp_path / "run2"), "--resume", str(seed_fit)]) == 0
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "run2" / "fit.json").read_text())
    first = json.loads((seed_fit / "fit.json").read_text())
    with capsys.disabled():
        print(f"\nfit --resume with 10 new crops: {seconds:.1f} s (first fit: {first['seconds']} s); "
              f"before {summary['before']}, after CA {summary['character_accuracy']} WA {summary['word_accuracy']}")
    assert seconds < 60
    assert summary["holdout"] == first["holdout"]  # the same holdout as the first fit
    assert summary["started_from"] == str(seed_fit / "best") and summary["continued"] == [first["samples"]]
    assert "before (the model it started from, same crops)" in out
    assert summary["word_accuracy"] >= summary["before"]["word_accuracy"]

    from digitocr.reader import Reader

    reader = Reader(tmp_path / "run2" / "best")
    assert reader.read(new / "4561_rpm180.png").text == "4561"
    assert reader.read(new / "151_speed180.png").text == "151"


def test_resume_needs_an_earlier_fit(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a fit run"):
        Continuation.of_run(tmp_path)
