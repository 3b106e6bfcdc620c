"""Evaluation reports: the seed's CA/WA, per-character confusions, worst cases, a grid picture, a CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from digitocr.data import LabelledImages, SkippedFile
from digitocr.files import atomic_path, write_text_atomically
from digitocr.images import open_image
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


GRID_CELL = (180, 110)  # pixels for each crop with its title
GRID_TITLE = 20  # of which the title takes this many rows


def save_grid(report: EvalReport, images: list[Any], path: Path, limit: int = 48, columns: int = 6) -> None:
    """The crops titled with what was read (wrong ones in red, with the label), like the seed's figure.

    Mistakes come first so they are never cut by `limit`. Drawn with Pillow: a figure library would add a
    second to a 15-second fit, for pasting pictures and writing their titles."""
    order = sorted(range(len(report.items)), key=lambda i: report.items[i].correct)[:limit]
    rows = max(1, -(-len(order) // columns))
    width, height = GRID_CELL
    sheet = Image.new("RGB", (columns * width, rows * height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    room = (width - 8, height - GRID_TITLE - 6)
    for slot, index in enumerate(order):
        item = report.items[index]
        left, top = slot % columns * width, slot // columns * height
        crop = Image.fromarray(open_image(images[index])).convert("RGB")
        scale = min(room[0] / crop.width, room[1] / crop.height)
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                           Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX)
        sheet.paste(crop, (left + (width - crop.width) // 2, top + GRID_TITLE + 2))  # right under its title
        title = item.text if item.correct else f"{item.text or '(nothing)'}  (is {item.label})"
        draw.text((left + width // 2, top + 3), title, fill="black" if item.correct else "red", font=font,
                  anchor="ma")
    with atomic_path(Path(path)) as temporary:
        sheet.save(temporary, format="PNG")
