"""Images per second of `digitocr generate` against TRDG 1.8.0 on the seed's first two commands.

Each run is a whole command (process start, font loading, writing every file), timed by wall clock;
the best of --repeats runs counts, the two tools alternating so that both see the same background
load. TRDG needs Pillow<10, so it lives in its own environment:

    python3 -m venv /work/.trdg-venv && /work/.trdg-venv/bin/pip install trdg==1.8.0 'pillow<10'
    .venv/bin/python benchmarks/bench_generate.py --trdg-python /work/.trdg-venv/bin/python

Without a TRDG environment (no --trdg-python, no $TRDG_PYTHON) only digitocr is measured.
TRDG's `-rs` labels have 2-10 characters and ours 1-4 (the seed's), so a third row runs ours with
`--label-length 2-10` for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED_COMMANDS = {
    "plain": "-rs -num -w 1 -fi -im L",
    "distorted": "-rs -num -w 1 -fi -im L -rk -rbl -d 3 -do 2",
}


def rate(command: list[str], count: int) -> float:
    """Images per second of one run of `command` (which gets --output_dir)."""
    with tempfile.TemporaryDirectory() as output:
        start = time.perf_counter()
        subprocess.run([*command, "--output_dir", output], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        written = sum(1 for path in Path(output).iterdir() if path.suffix == ".jpg")
    if written != count:
        raise RuntimeError(f"{shlex.join(command)} wrote {written} images, expected {count}")
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--count", type=int, default=2000)
    parser.add_argument("-t", "--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trdg-python", default=os.environ.get("TRDG_PYTHON"),
                        help="python of an environment with trdg==1.8.0 (default: $TRDG_PYTHON)")
    args = parser.parse_args()
    trdg_python = args.trdg_python if args.trdg_python and Path(args.trdg_python).exists() else None
    common = ["-c", str(args.count), "-t", str(args.workers)]
    print(f"images/s, best of {args.repeats}, -c {args.count} -t {args.workers}, {os.cpu_count()} CPUs")
    print(f"{'command':<60} {'digitocr':>9} {'TRDG':>9} {'ratio':>6}")
    rows = [(flags, flags) for flags in SEED_COMMANDS.values()]
    rows.append((SEED_COMMANDS["plain"] + " --label-length 2-10", SEED_COMMANDS["plain"]))
    for ours, theirs in rows:
        ours_command = [sys.executable, "-m", "digitocr", "generate", *ours.split(), *common]
        theirs_command = [trdg_python, "-m", "trdg.run", *theirs.split(), *common] if trdg_python else None
        digitocr_rate = trdg_rate = 0.0
        for _ in range(args.repeats):  # alternate the two, so both see the same background load
            digitocr_rate = max(digitocr_rate, rate(ours_command, args.count))
            if theirs_command:
                trdg_rate = max(trdg_rate, rate(theirs_command, args.count))
        trdg_column = f"{trdg_rate:9.0f} {digitocr_rate / trdg_rate:5.1f}x" if trdg_rate else f"{'-':>9} {'-':>6}"
        print(f"{ours:<60} {digitocr_rate:9.0f} {trdg_column}", flush=True)
    if not trdg_python:
        print("TRDG not measured: pass --trdg-python or set TRDG_PYTHON", file=sys.stderr)


if __name__ == "__main__":
    main()
