"""Images per second of `digitocr generate` against TRDG 1.8.0 on the seed's commands, and of the
synthetic stream while `tiny` trains.

Each run is a whole command (process start, font loading, writing every file into a fresh folder),
timed by wall clock. digitocr keeps the glyph bitmaps it draws on disk (`digitocr.synth.glyphcache`),
so its main column is a later run's speed (one untimed run per row fills the cache first); the
"empty glyph cache" column is a font set's very first run. The two tools are interleaved run by run (ours then TRDG's, TRDG's then ours on
the next round), so both see the same background load; each row reports the median of --repeats runs
with the spread (lowest-highest), the ratio of the medians, and the ratio of the best runs as an extra
column. TRDG needs Pillow<10, so it lives in its own environment:

    python3 -m venv /work/.trdg-venv && /work/.trdg-venv/bin/pip install trdg==1.8.0 'pillow<10'
    .venv/bin/python benchmarks/bench_generate.py --trdg-python /work/.trdg-venv/bin/python

Without a TRDG environment (no --trdg-python, no $TRDG_PYTHON) only digitocr is measured.
TRDG's `-rs` labels have 2-10 characters and ours 1-4 (the seed's): the `2-10` rows run ours with
`--label-length 2-10` against TRDG's same command, like for like.

`--training SECONDS` also measures the synthetic stream inside training: `tiny` trains on the default
stream (one torch thread, one data worker, as `digitocr train` runs) and the figure is the images/s
the stream delivered, with the share of the trainer's time spent waiting for it; before that, the
same stream is drained alone for SECONDS (what it can deliver when nothing else runs).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = "-rs -num -w 1 -fi -im L"
DISTORTED = f"{SEED} -rk -rbl -d 3 -do 2"
FONT_FAMILY = "orbitron"  # `-ft FONT` needs a font file both tools can open


def rows(font_file: str) -> list[tuple[str, str, str]]:
    """(row name, digitocr flags, TRDG flags): the seed's commands, then TRDG's own label lengths."""
    return [
        ("plain", SEED, SEED),
        ("distorted", DISTORTED, DISTORTED),
        ("font-spacing", f"{SEED} -ft {font_file} -cs -2", f"{SEED} -ft {font_file} -cs -2"),
        ("skew-15", f"{SEED} -k 15", f"{SEED} -k 15"),
        ("skew-345", f"{SEED} -k 345", f"{SEED} -k 345"),
        ("width-100", f"{SEED} -wd 100", f"{SEED} -wd 100"),
        ("plain-2-10", f"{SEED} --label-length 2-10", SEED),
        ("distorted-2-10", f"{DISTORTED} --label-length 2-10", DISTORTED),
    ]


def rate(command: list[str], count: int, outputs: Path, environment: dict[str, str] | None = None) -> float:
    """Images per second of one run of `command` (which gets --output_dir) into a fresh folder under `outputs`.

    Nothing is deleted until the whole benchmark ends: on this machine's ext4 (no journal) every file
    created scans the inodes deleted in the last 30 seconds, so deleting one run's 2,000 files would slow
    the next run's creates, whichever tool it is (a cost of the benchmark, not of either tool)."""
    output = Path(tempfile.mkdtemp(prefix="run-", dir=outputs))
    start = time.perf_counter()
    subprocess.run([*command, "--output_dir", str(output)], check=True, env=environment,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    written = sum(1 for path in output.iterdir() if path.suffix == ".jpg")
    if written != count:
        raise RuntimeError(f"{shlex.join(command)} wrote {written} images, expected {count}")
    return count / seconds


def first_run_rate(command: list[str], count: int, outputs: Path) -> float:
    """`rate` with an empty glyph cache, as a font set's very first run has it."""
    cache = tempfile.mkdtemp(prefix="glyphs-", dir=outputs)
    return rate(command, count, outputs, {**os.environ, "DIGITOCR_GLYPH_CACHE": cache})


def summary(rates: list[float]) -> str:
    """'median (lowest-highest)'."""
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def compare(args: argparse.Namespace, trdg_python: str | None) -> None:
    from digitocr.synth.fonts import find_family

    family = find_family(FONT_FAMILY)
    if family is None:
        raise SystemExit(f"font family {FONT_FAMILY} is not installed (pip install fontpkg-{FONT_FAMILY})")
    selected = [row for row in rows(str(family.primary)) if not args.rows or row[0] in args.rows]
    common = ["-c", str(args.count), "-t", str(args.workers)]
    ours: dict[str, list[float]] = {name: [] for name, _, _ in selected}
    ours_first: dict[str, list[float]] = {name: [] for name, _, _ in selected}
    theirs: dict[str, list[float]] = {name: [] for name, _, _ in selected}
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as folder:
        outputs = Path(folder)
        for name, our_flags, _ in selected:  # fills the glyph cache, as any earlier run would have
            rate([sys.executable, "-m", "digitocr", "generate", *our_flags.split(), *common], args.count, outputs)
        for repeat in range(args.repeats):  # interleaved run by run, the order swapped every round
            for name, our_flags, their_flags in selected:
                our_command = [sys.executable, "-m", "digitocr", "generate", *our_flags.split(), *common]
                runs = [(ours[name], our_command, rate), (ours_first[name], our_command, first_run_rate)]
                if trdg_python:
                    runs.append((theirs[name], [trdg_python, "-m", "trdg.run", *their_flags.split(), *common],
                                 rate))
                for rates, command, measure in runs if repeat % 2 == 0 else runs[::-1]:
                    rates.append(measure(command, args.count, outputs))
                    print(f"{name}\t{'trdg' if rates is theirs[name] else measure.__name__}\t{rates[-1]:.1f}",
                          file=sys.stderr, flush=True)  # each run as it ends, for long runs on a busy machine
            print(f"round {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    print(f"images/s, median (lowest-highest) of {args.repeats} interleaved runs, -c {args.count} "
          f"-t {args.workers}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}; -ft is {family.primary.name}\n")
    print("| row | digitocr flags | digitocr img/s | TRDG img/s | ratio of medians | ratio of best "
          "| digitocr, empty glyph cache | its ratio of medians |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, our_flags, _ in selected:
        flags = our_flags.replace(str(family.primary), "FONT")
        if theirs[name]:
            trdg = statistics.median(theirs[name])
            ratio, best = statistics.median(ours[name]) / trdg, max(ours[name]) / max(theirs[name])
            trdg_cells = f"{summary(theirs[name])} | **{ratio:.1f}x** | {best:.1f}x"
            first_ratio = f"{statistics.median(ours_first[name]) / trdg:.1f}x"
        else:
            trdg_cells, first_ratio = "- | - | -", "-"
        print(f"| {name} | `{flags}` | {summary(ours[name])} | {trdg_cells} | {summary(ours_first[name])} "
              f"| {first_ratio} |", flush=True)
    if not trdg_python:
        print("TRDG not measured: pass --trdg-python or set TRDG_PYTHON", file=sys.stderr)


def training_stream(seconds: float, batch_size: int) -> None:
    """Images/s the default synthetic stream delivers to `tiny` training on it, and the trainer's wait."""
    import torch

    from digitocr.charset import Charset
    from digitocr.data import BatchMaker, BatchStream, DataSpec, prepare_data
    from digitocr.models import build_model
    from digitocr.preprocess import Preprocess
    from digitocr.train import train_step

    torch.set_num_threads(1)
    charset = Charset()
    prepared = prepare_data(DataSpec(synthetic=[("", 1.0)], val_size=32), charset, Preprocess(), seed=0)
    maker = BatchMaker([source for source, _ in prepared.sources], [1.0], batch_size, seed=0)
    model = build_model("tiny", charset.num_classes).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = 0
    waited = 0.0
    with BatchStream(maker, batches_per_epoch=10**6, start=0, workers=1) as stream:
        batches = iter(stream)
        next(batches)  # the worker's start-up (spawn, imports, fonts) is not the stream's rate
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:  # the stream alone: what it can deliver
            images += len(next(batches)[2].labels)
        alone = images / elapsed
        images = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            asked = time.perf_counter()
            _, _, batch = next(batches)
            waited += time.perf_counter() - asked
            train_step(model, optimizer, batch, charset, torch.device("cpu"))
            images += len(batch.labels)
    print(f"\nsynthetic stream inside training ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, `tiny`, "
          f"batch {batch_size}, 1 torch thread + 1 data worker, {elapsed:.0f} s): "
          f"{images / elapsed:,.0f} img/s delivered; the trainer waited for data {100 * waited / elapsed:.0f}% "
          f"of the time. The stream alone (no training beside it): {alone:,.0f} img/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--count", type=int, default=2000)
    parser.add_argument("-t", "--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each tool per row")
    parser.add_argument("--rows", nargs="*", metavar="NAME", help="only these rows (default: all)")
    parser.add_argument("--trdg-python", default=os.environ.get("TRDG_PYTHON"),
                        help="python of an environment with trdg==1.8.0 (default: $TRDG_PYTHON)")
    parser.add_argument("--training", type=float, default=0.0, metavar="SECONDS",
                        help="also time the synthetic stream while `tiny` trains for SECONDS")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size for --training")
    args = parser.parse_args()
    trdg_python = args.trdg_python if args.trdg_python and Path(args.trdg_python).exists() else None
    if args.repeats > 0:
        compare(args, trdg_python)
    if args.training > 0:
        training_stream(args.training, args.batch_size)


if __name__ == "__main__":
    main()
