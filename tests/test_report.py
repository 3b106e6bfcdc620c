"""digitocr.report: fit's Markdown report and its pictures, written from what fit measured."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from glyph_crops import font_crops

from digitocr.evaluate import EvalItem, EvalReport
from digitocr.fit import FitResult
from digitocr.images import open_image, save_image
from digitocr.report import bank_sheet, samples_sheet, write_fit_report
from digitocr.synth.glyphs import Glyph, build_bank
from digitocr.synth.matching import FontMatch
from digitocr.synth.options import GeneratorConfig


def test_bank_sheet_has_a_row_per_character_and_tints_borrowed_glyphs(font) -> None:
    bank = build_bank(font_crops(font))
    plain = np.asarray(bank_sheet(bank))
    bank.glyphs["7"].append(Glyph("7", bank.glyphs["7"][0].mask, 0, 10, "font:roboto-mono"))
    tinted = np.asarray(bank_sheet(bank))
    rows = len(bank.glyphs)
    assert plain.shape[0] % rows == 0 and tinted.shape[1] >= plain.shape[1]
    assert (tinted == (255, 236, 200)).all(axis=2).any() and not (plain == (255, 236, 200)).all(axis=2).any()


def test_samples_sheet_puts_real_crops_above_each_stream(font) -> None:
    crops = font_crops(font)
    real = [(crop.image, crop.label) for crop in crops[:3]]
    streams = {"stream a": [(np.full((20, 30), 128, np.uint8), "1")], "stream b": real[:1]}
    sheet = samples_sheet(real, streams)
    assert sheet.height % 3 == 0 and sheet.width > 140


def test_write_fit_report(font, tmp_path: Path) -> None:
    bank = build_bank(font_crops(font))
    curves = save_image(np.zeros((10, 10), np.uint8), tmp_path / "training" / "curves.png")
    training = SimpleNamespace(curves_path=curves, steps=42, stopped_because="time limit")
    items = [EvalItem(Path("102_0.png"), "102", "102", 0.9), EvalItem(Path("17_1.png"), "17", "11", 0.6)]
    evaluation = EvalReport(items, 83.3, 0.5, Counter({("7", "1"): 1}))
    result = FitResult(tmp_path / "run", tmp_path / "run" / "best", tmp_path / "run" / "report.md", bank,
                       [FontMatch(font, 0.91, {"1": 0.9})], 83.3, 0.5, "2 held-out crops")
    stream = SimpleNamespace(name="bank (crop colours)", generator=SimpleNamespace(
        sample=lambda rng: (np.full((24, 40), 200, np.uint8), "12")))
    pictures = {"holdout": [crop.image for crop in font_crops(font)[:2]]}
    path = write_fit_report(result, training, {"holdout": evaluation}, pictures,
                            {"bank (crop colours)": GeneratorConfig()}, [(stream, 0.3)])
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "run" / "report.md"
    assert "**Character Accuracy: 83.30  Word Accuracy: 0.50** on 2 held-out crops." in text
    assert "42 training steps (time limit)" in text and "| roboto-mono | 0.910 |" in text
    assert "| bank (crop colours) | 0.30 |" in text and "### holdout (2 images)" in text
    for picture in ("bank.png", "samples.png", "curves.png", "eval-holdout.png"):
        assert f"report/{picture}" in text and open_image(tmp_path / "run" / "report" / picture).size
