"""Evaluation reports: the seed's CA/WA, per-character confusions, worst cases, a grid picture, a CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitocr.data import LabelledImages, SkippedFile
from digitocr.files import atomic_path, write_text_atomically
from digitocr.metrics import character_accuracy, confusions, sample_character_accuracy, word_accuracy
from digitocr.reader import Reader


@dataclass
class EvalItem:
    path: Path
    label: str
    text: str
    confidence: float

    @property
    def correct(self) -> bool:
        return self.text == self.label

    @property
    def character_accuracy(self) -> float:
        return sample_character_accuracy(self.text, self.label)


@dataclass
class EvalReport:
    items: list[EvalItem]
    character_accuracy: float
    word_accuracy: float
    confusions: Counter[tuple[str, str]]
    skipped: list[SkippedFile] = field(default_factory=list)

    def worst(self, count: int) -> list[EvalItem]:
        """The wrong readings, worst CA first, then the most confident mistakes."""
        wrong = [item for item in self.items if not item.correct]
        return sorted(wrong, key=lambda item: (item.character_accuracy, -item.confidence))[:count]

    def to_mapping(self, worst: int = 10) -> dict[str, Any]:
        return {
            "images": len(self.items),
            "character_accuracy": round(self.character_accuracy, 4),
            "word_accuracy": round(self.word_accuracy, 4),
            "confusions": [{"label": label, "read": read, "count": count}
                           for (label, read), count in self.confusions.most_common()],
            "worst": [{"path": str(item.path), "label": item.label, "read": item.text,
                       "confidence": round(item.confidence, 4)} for item in self.worst(worst)],
            "skipped": [{"path": str(item.path), "reason": item.reason} for item in self.skipped],
        }


def evaluate(reader: Reader, samples: LabelledImages) -> EvalReport:
    """Read every labelled image and score the readings with the seed's formulas."""
    readings = reader.read_batch(samples.images)
    texts = [reading.text for reading in readings]
    items = [EvalItem(path, label, reading.text, reading.confidence)
             for path, label, reading in zip(samples.paths, samples.labels, readings)]
    return EvalReport(items, character_accuracy(texts, samples.labels), word_accuracy(texts, samples.labels),
                      confusions(texts, samples.labels), list(samples.skipped))


def summary_lines(report: EvalReport, worst: int = 10) -> list[str]:
    """The seed's two lines exactly, then confusions and worst cases, for printing."""
    lines = [f"Character Accuracy: {report.character_accuracy:.2f}", f"Word Accuracy: {report.word_accuracy:.2f}"]
    if report.confusions:
        shown = ", ".join(f"{_show(label)}->{_show(read)} x{count}"
                          for (label, read), count in report.confusions.most_common(12))
        lines.append(f"confusions (label->read): {shown}")
    for item in report.worst(worst):
        lines.append(f"  wrong: {item.path.name}: read {item.text!r} for {item.label!r} "
                     f"(confidence {item.confidence:.2f})")
    return lines


def _show(char: str) -> str:
    return char if char else "(none)"


def write_csv(report: EvalReport, path: Path) -> None:
    """Every reading: path, label, read, confidence, correct."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "read", "confidence", "correct"])
    for item in report.items:
        writer.writerow([item.path, item.label, item.text, f"{item.confidence:.4f}", int(item.correct)])
    write_text_atomically(Path(path), buffer.getvalue())


def save_grid(report: EvalReport, images: list[Any], path: Path, limit: int = 48, columns: int = 6) -> None:
    """The crops titled with what was read (wrong ones in red, with the label), like the seed's figure.

    Mistakes come first so they are never cut by `limit`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    order = sorted(range(len(report.items)), key=lambda i: report.items[i].correct)[:limit]
    rows = max(1, -(-len(order) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.8, rows * 1.1), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, order):
        item = report.items[index]
        axis.imshow(images[index], cmap="gray")
        title = item.text if item.correct else f"✗ {item.text or '∅'} ({item.label})"
        axis.set_title(title, fontsize=9, color="black" if item.correct else "red")
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.35 / rows, wspace=0.1, hspace=0.6)
    with atomic_path(Path(path)) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
