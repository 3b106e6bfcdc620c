"""The recipe of the shipped general model: synthetic data only, fixed seeds, two stages.

    .venv/bin/python recipes/general.py            # what `make pretrained` runs
    .venv/bin/python recipes/general.py --steps 50 --dot-steps 20 --no-install   # a smoke test
    .venv/bin/python recipes/general.py --stage-1 MODEL   # the second stage only, from a first stage's model

It trains `conv` (tiny's layout with strided convolutions, and convolutions over time in place of the BiLSTM:
the same arithmetic as `strided`, which the model shipped before used, and its network reads a crop about twice
as fast in 8 bits; both stages take about 46 minutes on two CPU cores) on six weighted synthetic streams:
147 font families (`-ft general`) and the procedural segment/dot-matrix/pixel glyphs, drawn large and
small with the screen effects of synth/effects.py (a fifth of them slanted: fonts draw upright, HUDs often
in italics), plus binarised "refined" crops and tiny text. Labels are
numbers as screens show them (integers, decimals, thousands separators, signs, percentages, times,
ratios, zero padding) with some random strings of the same characters. The fonts kept for evaluation
(`-ft evaluation`) and the real crops in ../shared/real are never used. Then it writes the model
folder, its ONNX export, into src/digitocr/pretrained/general/ (package data).

The second stage continues from the first with the same streams, two more of 5x7 LED displays whose digits
come from the training fonts and the squared designs (`-ft dotfonts`), and two of squared display digits
(`-ft squared`: flagged 1s, open 4s, straight 7s): the first stage's only LED font was the HD44780's, it had
no squared faces, and its model read such digits as other digits. The first stage is unchanged, so its model
can be reused.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHARSET = "0123456789.-:,%/"
SEED = 20261128
LABEL_COUNT = 60_000
ARCHITECTURE = "conv"
ARCHITECTURE_OPTIONS = {"channels": [24, 48, 64, 80], "hidden": 80}
STEPS, BATCH_SIZE, EPOCH_STEPS = 7000, 128, 1000
LEARNING_RATE = 3e-3
VALIDATION_SIZE = 2000
# Geometry every stream shares: slight rotation, spacing and stretch as real fonts and screens vary.
_GEOMETRY = "-k 2 -rk -cs=-1,4 --stretch 0.75-1.3 --padding 0-0.6 --scale-jitter 0.55-1 --subpixel-offset 1"
_DEGRADE = "-bl 1 -rbl --jpeg-quality 35-95"
STREAMS = (  # generator flags (after `-i LABELS`), weight
    # Drawn large as well as small: crisp dots and segments of big displays must survive preprocessing.
    (f"-ft general --effects all --light-on-dark 0.5 -f 48 -m 6 {_GEOMETRY} {_DEGRADE}", 0.25),
    (f"-ft general --effects all --light-on-dark 0.5 {_GEOMETRY} {_DEGRADE}", 0.20),
    (f"-ft procedural --effects all --light-on-dark 0.5 -f 48 -m 6 {_GEOMETRY} {_DEGRADE}", 0.20),
    (f"-ft procedural --effects all --light-on-dark 0.5 {_GEOMETRY} {_DEGRADE}", 0.10),
    (f"-ft general -ft procedural -b 1 --threshold otsu --invert 0.3 {_GEOMETRY} -bl 0.6 -rbl", 0.15),
    (f"-ft general -ft procedural -f 16 -m 1 --effects all --light-on-dark 0.5 {_GEOMETRY} -bl 0.5 -rbl", 0.10),
)
DOT_STEPS, DOT_LEARNING_RATE = 3000, 1e-3
DOT_STREAMS = tuple((flags, weight * 0.72) for flags, weight in STREAMS) + (  # the first stage's, LED designs
    (f"-ft dotfonts --effects all --light-on-dark 0.5 -f 48 -m 6 {_GEOMETRY} {_DEGRADE}", 0.12),  # and squared
    (f"-ft dotfonts --effects all --light-on-dark 0.5 {_GEOMETRY} {_DEGRADE}", 0.06),             # digits
    (f"-ft squared --effects all --light-on-dark 0.5 {_GEOMETRY} {_DEGRADE}", 0.06),
    (f"-ft squared -b 1 --threshold otsu --invert 0.3 {_GEOMETRY} -bl 0.6 -rbl", 0.04),
)
PACKAGE_MODEL = REPO / "src" / "digitocr" / "pretrained" / "general"


def _digits(rng: np.random.Generator, low: int, high: int) -> str:
    """A whole number of `low`-`high` digits, no leading zero (each length equally likely)."""
    length = int(rng.integers(low, high + 1))
    if length == 1:
        return str(int(rng.integers(10)))
    return str(int(rng.integers(10 ** (length - 1), 10 ** length)))


def number_label(rng: np.random.Generator) -> str:
    """One label as screens show numbers; the mix leans on plain integers, the commonest readout."""
    kind = rng.choice(["int", "decimal", "thousands", "signed", "percent", "time", "ratio", "padded", "random"],
                      p=[0.28, 0.15, 0.07, 0.08, 0.08, 0.13, 0.05, 0.06, 0.10])
    if kind == "int":
        return _digits(rng, 1, 7)
    if kind == "decimal":
        return f"{_digits(rng, 1, 4)}.{''.join(str(d) for d in rng.integers(10, size=rng.integers(1, 4)))}"
    if kind == "thousands":
        return f"{int(rng.integers(1000, 10_000_000)):,}"
    if kind == "signed":
        return "-" + (_digits(rng, 1, 5) if rng.random() < 0.6 else f"{_digits(rng, 1, 3)}.{rng.integers(10)}")
    if kind == "percent":
        return (_digits(rng, 1, 3) if rng.random() < 0.7 else f"{_digits(rng, 1, 2)}.{rng.integers(10)}") + "%"
    if kind == "time":
        minutes, seconds = int(rng.integers(0, 60)), int(rng.integers(0, 60))
        form = int(rng.integers(4))
        if form == 0:
            return f"{minutes}:{seconds:02d}"
        if form == 1:
            return f"{minutes:02d}:{seconds:02d}"
        if form == 2:
            return f"{int(rng.integers(0, 24))}:{minutes:02d}:{seconds:02d}"
        places = int(rng.integers(1, 4))
        return f"{minutes}:{seconds:02d}.{int(rng.integers(10 ** places)):0{places}d}"
    if kind == "ratio":
        return f"{_digits(rng, 1, 3)}/{_digits(rng, 1, 3)}"
    if kind == "padded":
        return f"{int(rng.integers(0, 1000)):0{int(rng.integers(2, 7))}d}"
    return "".join(rng.choice(list(CHARSET), size=int(rng.integers(1, 9))))


def write_labels(path: Path, count: int = LABEL_COUNT, seed: int = SEED) -> Path:
    """The label file every stream draws its labels from (seeded: the same file every run)."""
    rng = np.random.default_rng([seed, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(number_label(rng) + "\n" for _ in range(count)), encoding="utf-8")
    return path


def train_general(run_dir: Path, steps: int, workers: int, device: str, threads: int | None,
                  streams: tuple[tuple[str, float], ...] = STREAMS, lr: float = LEARNING_RATE,
                  start: Path | None = None, seed: int = SEED) -> Path:
    """Train the general model into `run_dir` (from `start`'s weights, when given); returns its best model
    folder."""
    from digitocr.charset import Charset
    from digitocr.data import Augment, DataSpec, prepare_data
    from digitocr.preprocess import Preprocess
    from digitocr.train import TrainConfig, train

    labels = write_labels(run_dir / "labels.txt")
    spec = DataSpec(synthetic=[(f"-i {shlex.quote(str(labels))} {flags}", weight) for flags, weight in streams],
                    val_size=VALIDATION_SIZE)
    config = TrainConfig(
        run_dir=run_dir, architecture=ARCHITECTURE, architecture_options=ARCHITECTURE_OPTIONS, charset=CHARSET,
        preprocess=Preprocess(), epochs=max(1, -(-steps // EPOCH_STEPS)), steps=steps,
        epoch_size=EPOCH_STEPS * BATCH_SIZE, batch_size=BATCH_SIZE, lr=lr, augment=Augment(),
        seed=seed, workers=workers, threads=threads, device=device, overwrite=True, data=spec.to_mapping(),
        init_from=str(start) if start is not None else None)
    data = prepare_data(spec, Charset(CHARSET), config.preprocess, config.seed)

    def report(progress: object) -> None:
        if getattr(progress, "kind", "") == "epoch":
            row = progress.row or {}  # type: ignore[attr-defined]
            print(f"epoch {row.get('epoch', 0):g}: val WA {row.get('val_wa', 0):.4f} "
                  f"CA {row.get('val_ca', 0):.4f} loss {row.get('val_loss', 0):.4f}", flush=True)

    result = train(config, data.sources, data.validation, on_progress=report)
    print(f"stopped by {result.stopped_because} after {result.steps} steps "
          f"({result.images_per_second:.0f} images/s)", flush=True)
    return result.best_dir


def install(model_dir: Path, target: Path = PACKAGE_MODEL) -> Path:
    """Copy the model folder into the package (with model.onnx, exported here if it is missing) and write
    the checksums a reader verifies."""
    if not (model_dir / "model.onnx").is_file():
        from digitocr.export import export_onnx

        export_onnx(model_dir)
    from digitocr.pretrained import FILES, write_checksums

    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(model_dir / name, target / name)
    write_checksums(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs", help="folder of runs (runs)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"first stage's optimizer steps ({STEPS})")
    parser.add_argument("--dot-steps", type=int, default=DOT_STEPS, help=f"second stage's steps ({DOT_STEPS})")
    parser.add_argument("--stage-1", type=Path, help="a first stage's model folder: run the second stage only")
    parser.add_argument("--workers", type=int, default=1, help="batch-building processes (1)")
    parser.add_argument("--threads", type=int, help="torch threads (default: every core with one batch process, "
                                                     "which needs a fifth of a core; cores minus workers with more)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--no-install", dest="install", action="store_false",
                        help="leave the package's shipped model alone")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    threads = args.threads or (cores if args.workers <= 1 else max(1, cores - args.workers))
    first = args.stage_1 or train_general(args.runs / "general", args.steps, args.workers, args.device, threads)
    best = train_general(args.runs / "general-dots", args.dot_steps, args.workers, args.device, threads,
                         DOT_STREAMS, DOT_LEARNING_RATE, first, SEED + 1)
    print(f"best model: {best}")
    if args.install:
        print(f"installed: {install(best)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
