"""Reading speed of a model folder: batched crops/s and median single-crop latency (preprocessing included).

    .venv/bin/python benchmarks/bench_read.py --model demo/tiny/best [--threads 2] [--crops 2000]

Without --threads it times batched reading with 1 .. (CPU count) torch threads and reports every figure
with the fastest count, saying which it is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from PIL import Image

from digitocr.reader import Reader
from digitocr.synth.generate import TextImageGenerator, parse_generator_args


def batched_speed(reader: Reader, crops: list[Image.Image]) -> float:
    """End-to-end crops/s of one `read_batch` over all the crops (after a warm-up batch)."""
    reader.read_batch(crops[:256])
    started = time.perf_counter()
    reader.read_batch(crops)
    return len(crops) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, help="torch threads (default: the fastest of 1 .. CPU count)")
    parser.add_argument("--crops", type=int, default=2000)
    args = parser.parse_args()
    reader = Reader(args.model)
    generator = TextImageGenerator(parse_generator_args(["--label-length", "1-5"]))
    rng = np.random.default_rng(0)
    crops = [generator.sample(rng)[0] for _ in range(args.crops)]

    candidates = [args.threads] if args.threads else list(range(1, (os.cpu_count() or 1) + 1))
    speeds = {}
    for threads in candidates:
        torch.set_num_threads(threads)
        speeds[threads] = batched_speed(reader, crops)
    threads = max(speeds, key=speeds.__getitem__)
    torch.set_num_threads(threads)
    tried = ", ".join(f"{count} threads {speed:.0f}/s" for count, speed in speeds.items())
    print(f"{args.crops} synthetic crops (mean {np.mean([c.width for c in crops]):.0f}x{crops[0].height} px), "
          f"{threads} threads" + (f" (the fastest: {tried})" if len(speeds) > 1 else ""))

    preprocessed = [reader.preprocess(crop) for crop in crops]
    started = time.perf_counter()
    reader.read_preprocessed(preprocessed)
    network_only = len(crops) / (time.perf_counter() - started)
    print(f"batched: {speeds[threads]:.0f} crops/s end to end ({network_only:.0f} crops/s for the network alone)")

    latencies = []
    for crop in crops[:500]:
        started = time.perf_counter()
        reader.read(crop)
        latencies.append(time.perf_counter() - started)
    print(f"single crop: median {statistics.median(latencies) * 1000:.2f} ms, "
          f"90th percentile {np.percentile(latencies, 90) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
