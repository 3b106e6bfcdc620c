"""How far a reading's confidence can be trusted: how often a reading at or above a threshold is wrong.

    .venv/bin/python benchmarks/bench_calibration.py [--model DIR] [--crops 2000] [--format int]

The calibration set: crops drawn with the held-out fonts (never in the shipped model's training) in four
styles (dark on light, light on dark, blurred, JPEG-degraded), 1 to 5 digits, plus the game's real crops from
../shared/real when present. For each threshold: the share of readings kept (confidence >= threshold) and
how many of those are wrong; then the readings grouped by confidence, with each group's accuracy. With
--format, statuses count too: a reading is trusted only when its status is ok.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from digitocr.charset import Charset
from digitocr.data import load_labelled
from digitocr.images import open_image
from digitocr.reader import Reader

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
STYLES = {
    "dark on light": ["-b", "1"],
    "light on dark": ["-b", "1", "--light-on-dark", "1"],
    "blurred": ["-bl", "1.2", "-rbl", "--light-on-dark", "0.5"],
    "jpeg": ["--jpeg-quality", "20-60", "--light-on-dark", "0.5"],
}
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
BINS = (0.0, 0.3, 0.5, 0.7, 0.9, 0.97, 1.0)


def calibration_set(count: int) -> list[tuple[np.ndarray, str]]:
    from digitocr.synth.generate import TextImageGenerator, parse_generator_args

    crops = []
    for index, flags in enumerate(STYLES.values()):
        generator = TextImageGenerator(parse_generator_args(
            ["-ft", "heldout", "--label-length", "1-5", "--seed", str(100 + index), *flags]))
        crops += [(np.asarray(image), label) for image, label in (generator.sample_at(i)
                                                                  for i in range(count // len(STYLES)))]
    if (REAL / "seed-refined").is_dir():
        for folder in ("seed-refined", "seed-raw"):
            data = load_labelled([REAL / folder], Charset())
            crops += [(open_image(image), label) for image, label in zip(data.images, data.labels)]
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the shipped general model)")
    parser.add_argument("--crops", type=int, default=2000, help="synthetic crops (2000)")
    parser.add_argument("--format", help="read with this format (e.g. int); trusted = status ok")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    reader = Reader(args.model, format=args.format)
    samples = calibration_set(args.crops)
    readings = reader.read_batch([image for image, _ in samples])
    right = np.array([reading.text == label for reading, (_, label) in zip(readings, samples)])
    confidence = np.array([reading.confidence for reading in readings])
    status_ok = np.array([reading.status in ("ok", "low_confidence") for reading in readings])
    print(f"{len(samples)} crops ({args.crops} synthetic in held-out fonts, the rest real), model "
          f"{reader.model_dir}, backend {reader.backend}{', format ' + args.format if args.format else ''}: "
          f"word accuracy {right.mean():.3f}")
    print("\n| threshold | readings kept | wrong among kept | wrong among rejected |")
    print("| --- | --- | --- | --- |")
    by_threshold = {}
    for threshold in THRESHOLDS:
        kept = (confidence >= threshold) & status_ok
        wrong_kept = float((~right[kept]).mean()) if kept.any() else 0.0
        wrong_rejected = float((~right[~kept]).mean()) if (~kept).any() else 0.0
        default = " (default)" if threshold == 0.5 else ""
        print(f"| {threshold}{default} | {kept.mean():.1%} | {wrong_kept:.2%} ({int((~right[kept]).sum())}) | "
              f"{wrong_rejected:.1%} |")
        by_threshold[str(threshold)] = {"kept": float(kept.mean()), "wrong_kept": wrong_kept,
                                        "wrong_rejected": wrong_rejected}
    print("\n| confidence | readings | accuracy |")
    print("| --- | --- | --- |")
    for low, high in itertools.pairwise(BINS):
        inside = (confidence >= low) & ((confidence < high) if high < 1.0 else (confidence <= high))
        if inside.any():
            print(f"| {low:.2f}-{high:.2f} | {int(inside.sum())} | {right[inside].mean():.3f} |")
    if args.json:
        figures = {"crops": len(samples), "word_accuracy": float(right.mean()), "thresholds": by_threshold}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
