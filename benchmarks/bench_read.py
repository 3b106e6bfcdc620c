"""Reading speed of a model folder: batched crops/s and median single-crop latency (preprocessing included).

    .venv/bin/python benchmarks/bench_read.py --model demo/tiny/best [--threads 2] [--crops 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from digitocr.reader import Reader
from digitocr.synth.generate import TextImageGenerator, parse_generator_args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crops", type=int, default=2000)
    args = parser.parse_args()
    reader = Reader(args.model, threads=args.threads)
    generator = TextImageGenerator(parse_generator_args(["--label-length", "1-5"]))
    rng = np.random.default_rng(0)
    crops = [generator.sample(rng)[0] for _ in range(args.crops)]
    print(f"{args.crops} synthetic crops (mean {np.mean([c.width for c in crops]):.0f}x{crops[0].height} px), "
          f"{torch.get_num_threads()} threads")

    reader.read_batch(crops[:256])  # warm up
    started = time.perf_counter()
    reader.read_batch(crops)
    batched = len(crops) / (time.perf_counter() - started)
    preprocessed = [reader.preprocess(crop) for crop in crops]
    started = time.perf_counter()
    reader.read_preprocessed(preprocessed)
    network_only = len(crops) / (time.perf_counter() - started)
    print(f"batched: {batched:.0f} crops/s end to end ({network_only:.0f} crops/s for the network alone)")

    latencies = []
    for crop in crops[:500]:
        started = time.perf_counter()
        reader.read(crop)
        latencies.append(time.perf_counter() - started)
    print(f"single crop: median {statistics.median(latencies) * 1000:.2f} ms, "
          f"90th percentile {np.percentile(latencies, 90) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
