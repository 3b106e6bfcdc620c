"""Reading speed of a model folder, preprocessing included and image decoding excluded (crops and the frame
are decoded to arrays first): single-crop median and 90th percentile, batched crops/s, and a whole-frame
profile read of three regions of the seed screenshot.

    .venv/bin/python benchmarks/bench_read.py [--model FOLDER] [--backend onnx|onnx-int8|torch] [--threads 1 2]

The model defaults to the shipped general one; the backend to ONNX Runtime when the folder has model.onnx
(torch is then never imported). Each figure is the median of --repeats rounds, the thread counts taking
turns within a round so that the load of the machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from digitocr.images import open_image
from digitocr.profile import Profile, profile_from_mapping
from digitocr.reader import BACKENDS, Reader, onnx_graph_file, read_onnx_entry
from digitocr.synth.generate import TextImageGenerator, parse_generator_args

SEED_SCREEN = Path(__file__).resolve().parents[2] / "shared" / "real" / "seed-screens" / "test.png"
SCREEN_REGIONS = {  # the seed screenshot's speed and RPM, and the seed's own ratio box around the speed
    "speed": {"box": [126, 320, 178, 342], "format": "int", "range": [0, 400]},
    "rpm": {"box": [1758, 245, 1822, 266], "format": "int", "range": [0, 9000]},
    "speed_ratio": {"ratios": ["123/1942", "318/1042", "190/1942", "342/1042"], "format": "int"},
}


def batched_speed(reader: Reader, crops: list[np.ndarray]) -> float:
    """End-to-end crops/s of one `read_batch` over all the crops."""
    started = time.perf_counter()
    reader.read_batch(crops)
    return len(crops) / (time.perf_counter() - started)


def call_latencies(read: Callable[[np.ndarray], object], crops: Sequence[np.ndarray]) -> list[float]:
    """Seconds of each `read(crop)`, one crop after another (bench_peers times its engines with it too)."""
    latencies = []
    for crop in crops:
        started = time.perf_counter()
        read(crop)
        latencies.append(time.perf_counter() - started)
    return latencies


def stage_costs(reader: Reader, crops: list[np.ndarray]) -> dict[str, float]:
    """Where one crop's read goes, each stage timed alone and hot (the same stage crop after crop), median
    seconds: preprocessing, the network call (its own ONNX Runtime session on the reader's graph, one thread), the
    network with decoding (`read_preprocessed`), and the whole read. In a read the stages run one after
    another and each finds the caches holding the others' data, so the whole costs more than its parts."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    graph = onnx_graph_file(read_onnx_entry(reader.model_dir, reader.meta), reader.backend == "onnx-int8")
    session = onnxruntime.InferenceSession(str(reader.model_dir / graph), options, providers=["CPUExecutionProvider"])
    preprocessed = [reader.preprocess(crop) for crop in crops]
    stages = {"preprocessing": (reader.preprocess, crops),
              "network": (lambda crop: session.run(None, {"images": crop[None, None]}), preprocessed),
              "network and decoding": (lambda crop: reader.read_preprocessed([crop]), preprocessed),
              "whole read": (reader.read, crops)}
    costs = {}
    for name, (stage, inputs) in stages.items():
        times = []
        for item in inputs:
            started = time.perf_counter()
            stage(item)
            times.append(time.perf_counter() - started)
        costs[name] = statistics.median(times)
    return costs


def screen_latency(reader: Reader, frame: np.ndarray, profile: Profile, rounds: int = 200) -> float:
    """Median seconds of one `read_screen` of the whole frame."""
    latencies = []
    for _ in range(rounds):
        started = time.perf_counter()
        reader.read_screen(frame, profile)
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the shipped general model)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS)
    parser.add_argument("--threads", type=int, nargs="+",
                        help="thread counts to time batched reading with (default: 1 .. CPU count)")
    parser.add_argument("--crops", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    counts = args.threads or list(range(1, (os.cpu_count() or 1) + 1))
    readers = {threads: Reader(args.model, backend=args.backend, threads=threads) for threads in counts}
    single = Reader(args.model, backend=args.backend, threads=1)
    generator = TextImageGenerator(parse_generator_args(["--label-length", "1-5"]))
    rng = np.random.default_rng(0)
    crops = [open_image(generator.sample(rng)[0]) for _ in range(args.crops)]
    preprocessed = [single.preprocess(crop) for crop in crops]
    print(f"{single.model_dir} on {single.backend}; {args.crops} synthetic crops (mean "
          f"{np.mean([c.shape[1] for c in crops]):.0f}x{crops[0].shape[0]} px, {len({p.shape[1] for p in preprocessed})}"
          f" widths after preprocessing), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    for reader in readers.values():
        reader.read_batch(crops[:256])  # warm-up
    speeds: dict[int, list[float]] = {threads: [] for threads in counts}
    network: list[float] = []
    latencies: list[float] = []
    for _ in range(args.repeats):
        for threads, reader in readers.items():
            speeds[threads].append(batched_speed(reader, crops))
        started = time.perf_counter()
        single.read_preprocessed(preprocessed)
        network.append(len(crops) / (time.perf_counter() - started))
        latencies += call_latencies(single.read, crops[:300])
    for threads in counts:
        print(f"batched, {threads} thread(s): {statistics.median(speeds[threads]):.0f} crops/s end to end "
              f"(median of {args.repeats})")
    print(f"batched, 1 thread, already preprocessed (network and decoding): {statistics.median(network):.0f} crops/s")
    print(f"single crop: median {statistics.median(latencies) * 1000:.3f} ms, "
          f"90th percentile {np.percentile(latencies, 90) * 1000:.3f} ms")
    if single.backend != "torch":
        costs = stage_costs(single, crops[:300])
        print("one read's stages, each timed alone (medians): "
              + ", ".join(f"{name} {seconds * 1e6:.0f} us" for name, seconds in costs.items()))

    if SEED_SCREEN.is_file():
        frame = open_image(SEED_SCREEN)
        grab = np.concatenate([frame[:, :, ::-1], np.full(frame.shape[:2] + (1,), 255, np.uint8)], axis=2)
        profile = profile_from_mapping({"size": list(frame.shape[1::-1]), "regions": SCREEN_REGIONS})
        for threads, reader in readers.items():  # with two or more, the regions' calls of two widths overlap
            reader.read_screen(grab, profile)
            print(f"profile read of {len(SCREEN_REGIONS)} regions of the {frame.shape[1]}x{frame.shape[0]} seed "
                  f"screen (a BGRA grab, as mss gives it), {threads} thread(s): median "
                  f"{screen_latency(reader, grab, profile) * 1000:.3f} ms")


if __name__ == "__main__":
    main()
