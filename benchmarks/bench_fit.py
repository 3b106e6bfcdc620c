"""Fit a model from scratch (a `tiny` network) on a folder of crops within a time limit, then measure it on
other crops and regions.

    .venv/bin/python benchmarks/bench_fit.py ../shared/real/seed-refined --time-limit 180 \
        --holdout ../shared/real/seed-raw --regions ../shared/real/seed-screens/regions.json

Prints the fit time and, for each holdout folder and each screenshot region set, the seed's
Character Accuracy / Word Accuracy lines and the wrong readings.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from digitocr.charset import Charset
from digitocr.data import load_labelled
from digitocr.errors import UserError
from digitocr.evaluate import evaluate, summary_lines
from digitocr.fit import SCRATCH, fit
from digitocr.images import open_image
from digitocr.metrics import character_accuracy, word_accuracy
from digitocr.reader import Reader


def region_scores(reader: Reader, regions_file: Path) -> tuple[list[str], list[str]]:
    """Readings and labels of the boxes a regions.json lists for its screenshot."""
    document = json.loads(regions_file.read_text(encoding="utf-8"))
    screenshot = open_image(regions_file.parent / document["image"])
    readings, labels = [], []
    for region in document["regions"].values():
        readings.append(reader.read(screenshot, tuple(region["box"])).text)
        labels.append(region["label"])
    return readings, labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", type=Path)
    parser.add_argument("--time-limit", type=float, default=180.0)
    parser.add_argument("--charset", default="0123456789")
    parser.add_argument("--holdout", type=Path, action="append", default=[], help="labelled folder (repeatable)")
    parser.add_argument("--regions", type=Path, action="append", default=[], help="regions.json (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="run folder (default: a temporary one)")
    args = parser.parse_args()
    run_dir = args.output or Path(tempfile.mkdtemp(prefix="bench-fit-"))
    started = time.monotonic()
    try:
        result = fit(args.samples, run_dir, time_limit=args.time_limit, charset=args.charset, seed=args.seed,
                     overwrite=True, start=SCRATCH)
    except UserError as error:
        print(f"bench_fit: error: {error}", file=sys.stderr)
        return 2
    print(f"fit on {args.samples}: {time.monotonic() - started:.1f} s (limit {args.time_limit:g}), "
          f"model {result.model_dir}")
    print(f"  fit's own evaluation on {result.evaluated_on}: CA {result.character_accuracy:.2f}, "
          f"WA {result.word_accuracy:.2f}")
    reader = Reader(result.model_dir)
    for folder in args.holdout:
        report = evaluate(reader, load_labelled([folder], Charset(args.charset)))
        print(f"{folder} ({len(report.items)} crops):")
        print("\n".join(f"  {line}" for line in summary_lines(report)))
    for regions in args.regions:
        readings, labels = region_scores(reader, regions)
        print(f"{regions} ({len(labels)} regions): read {readings} for {labels}")
        print(f"  Character Accuracy: {character_accuracy(readings, labels):.2f}")
        print(f"  Word Accuracy: {word_accuracy(readings, labels):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
