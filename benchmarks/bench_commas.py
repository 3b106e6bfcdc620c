"""Decimal points read as commas, and commas read as points: crops of numbers `a.bb` and `a,bbb` drawn in the
fonts kept for evaluation (never trained on), plain and with screen effects, read by each model given.

    .venv/bin/python benchmarks/bench_commas.py [MODEL ...]    # default: the shipped general model

A comma whose tail preprocessing cuts off is a point, so a model trained on such crops reads points as commas;
see docs/general-model.md ("Commas kept").
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

import numpy as np

from digitocr.reader import Reader
from digitocr.synth.generate import TextImageGenerator, parse_generator_args

STYLES = {"plain": "", "screen effects": "--effects all --light-on-dark 0.5 -bl 1 -rbl --jpeg-quality 35-95"}
PER_KIND = 200  # crops with a point, and as many with a comma


def labels(rng: np.random.Generator) -> list[str]:
    points = [f"{rng.integers(1, 1000)}.{rng.integers(0, 100):02d}" for _ in range(PER_KIND)]
    commas = [f"{rng.integers(1, 1000)},{rng.integers(0, 1000):03d}" for _ in range(PER_KIND)]
    return points + commas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model folders (default: the shipped general model)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    readers = [Reader(model) for model in args.models] if args.models else [Reader()]
    with tempfile.TemporaryDirectory() as scratch:
        label_file = Path(scratch) / "labels.txt"
        label_file.write_text("".join(f"{label}\n" for label in labels(np.random.default_rng(args.seed))))
        print(f"| model | style | read right (of {2 * PER_KIND}) | points read as commas (of {PER_KIND}) | "
              f"commas read as points (of {PER_KIND}) |\n| --- | --- | --- | --- | --- |")
        for style, flags in STYLES.items():
            generator = TextImageGenerator(parse_generator_args(
                shlex.split(f"-i {shlex.quote(str(label_file))} -ft evaluation --seed {args.seed} {flags}")))
            samples = [generator.sample_array(generator.rng_at(index), index) for index in range(2 * PER_KIND)]
            for reader in readers:
                texts = [reading.text for reading in reader.read_batch([pixels for pixels, _ in samples])]
                pairs = list(zip(texts, (label for _, label in samples)))
                as_commas = sum(text == label.replace(".", ",") for text, label in pairs if "." in label)
                as_points = sum(text == label.replace(",", ".") for text, label in pairs if "," in label)
                right = sum(text == label for text, label in pairs)
                print(f"| {reader.model_dir} | {style} | {right} | {as_commas} | {as_points} |")


if __name__ == "__main__":
    main()
