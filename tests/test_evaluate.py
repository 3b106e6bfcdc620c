"""digitocr.evaluate: the seed's CA/WA lines, confusions, worst cases, the CSV and the grid picture."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
from digit_images import draw_digits, write_folder
from model_folders import saved_model

from digitocr.charset import Charset
from digitocr.data import SkippedFile, load_labelled
from digitocr.evaluate import EvalItem, EvalReport, evaluate, save_grid, summary_lines, write_csv
from digitocr.images import open_image
from digitocr.metrics import character_accuracy, word_accuracy
from digitocr.reader import Reader


def report_of(pairs: list[tuple[str, str, float]]) -> EvalReport:
    """A report over (label, read, confidence) triples, scored as evaluate scores them."""
    items = [EvalItem(Path(f"{label}_{i}.png"), label, text, confidence)
             for i, (label, text, confidence) in enumerate(pairs)]
    texts, labels = [item.text for item in items], [item.label for item in items]
    return EvalReport(items, character_accuracy(texts, labels), word_accuracy(texts, labels),
                      Counter({("7", "1"): 2}), [SkippedFile(Path("bad.png"), "not a readable image")])


def test_evaluate_reads_every_image_and_scores_with_the_seeds_formulas(tmp_path: Path) -> None:
    write_folder(tmp_path / "data", ["12", "345", "6"])
    (tmp_path / "data" / "9_broken.png").write_bytes(b"not an image")
    saved_model(tmp_path / "model")
    samples = load_labelled([tmp_path / "data"], Charset())
    report = evaluate(Reader(tmp_path / "model", backend="torch"), samples)
    assert [item.label for item in report.items] == ["12", "345", "6"]
    assert [item.path for item in report.items] == samples.paths
    texts = [item.text for item in report.items]
    assert report.character_accuracy == character_accuracy(texts, samples.labels)
    assert report.word_accuracy == word_accuracy(texts, samples.labels)
    assert [skipped.path.name for skipped in report.skipped] == ["9_broken.png"]
    assert all(0.0 <= item.confidence <= 1.0 for item in report.items)


def test_summary_csv_and_mapping() -> None:
    report = report_of([("12", "12", 0.9), ("77", "71", 0.95), ("5", "", 0.2), ("3", "8", 0.99)])
    lines = summary_lines(report, worst=2)
    assert lines[0] == f"Character Accuracy: {report.character_accuracy:.2f}"
    assert lines[1] == f"Word Accuracy: {report.word_accuracy:.2f}"
    assert lines[2] == "confusions (label->read): 7->1 x2"
    # worst first: the lowest character accuracy, then the most confident mistake
    assert [item.label for item in report.worst(3)] == ["3", "5", "77"]
    assert len([line for line in lines if line.startswith("  wrong:")]) == 2
    mapping = report.to_mapping(worst=1)
    assert mapping["images"] == 4 and mapping["worst"][0]["read"] == "8"
    assert mapping["skipped"] == [{"path": "bad.png", "reason": "not a readable image"}]
    assert mapping["confusions"] == [{"label": "7", "read": "1", "count": 2}]


def test_csv_and_grid_files(tmp_path: Path) -> None:
    report = report_of([("12", "12", 0.9), ("77", "71", 0.95)])
    write_csv(report, tmp_path / "out" / "readings.csv")
    rows = list(csv.reader((tmp_path / "out" / "readings.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["path", "label", "read", "confidence", "correct"]
    assert rows[2] == ["77_1.png", "77", "71", "0.9500", "0"]
    images = [np.asarray(draw_digits(item.label)) for item in report.items]
    save_grid(report, images, tmp_path / "grid.png", limit=1)
    grid = open_image(tmp_path / "grid.png")
    assert grid.shape[0] > 50 and grid.shape[1] > 200
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]
