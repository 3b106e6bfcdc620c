"""Training throughput of `tiny` against the seed's `crnn` on the same batches, in the same run, and the
time `tiny` needs to reach val WA 0.99 on the default synthetic stream.

    .venv/bin/python benchmarks/bench_train.py [--seconds 30] [--rounds 3] [--threads 1] [--skip-convergence]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from digitocr.charset import Charset
from digitocr.data import BatchMaker, DataSpec, prepare_data
from digitocr.models import build_model, count_parameters
from digitocr.preprocess import Preprocess
from digitocr.train import TrainConfig, train, train_step


def images_per_second(architecture: str, batches: list, seconds: float) -> float:
    """The trainer's optimizer steps on pre-built batches (data preparation excluded) for about `seconds`."""
    charset = Charset()
    torch.manual_seed(0)
    model = build_model(architecture, charset.num_classes).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = 0
    started = time.perf_counter()
    for number in range(10**9):
        batch = batches[number % len(batches)]
        train_step(model, optimizer, batch, charset, torch.device("cpu"))
        images += len(batch.labels)
        if time.perf_counter() - started >= seconds and number >= 2:
            break
    return images / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="timing per architecture, all rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (training uses 1 + a data worker)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-convergence", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    prepared = prepare_data(DataSpec(synthetic=[("", 1.0)], val_size=500), Charset(), Preprocess(), seed=0)
    maker = BatchMaker([source for source, _ in prepared.sources], [1.0], args.batch_size, seed=0)
    batches = [maker.make(0, index) for index in range(20)]
    mean_width = sum(crop.shape[1] for batch in batches for crop in batch.crops) / (20 * args.batch_size)
    print(f"same 20 synthetic batches of {args.batch_size} (mean width {mean_width:.0f} px), "
          f"{args.threads} threads, {torch.__version__}")
    # Alternate the two in rounds and keep each one's best round, so load from other processes on a
    # shared machine hits both alike instead of whichever ran second.
    rates = dict.fromkeys(("tiny", "crnn"), 0.0)
    for _ in range(args.rounds):
        for architecture in rates:
            rates[architecture] = max(rates[architecture],
                                      images_per_second(architecture, batches, args.seconds / args.rounds))
    for architecture, rate in rates.items():
        parameters = count_parameters(build_model(architecture, 11))
        print(f"{architecture:5s} {parameters / 1e6:5.2f} M parameters: {rate:8.1f} training images/s")
    print(f"tiny trains {rates['tiny'] / rates['crnn']:.1f}x faster than crnn")

    if args.skip_convergence:
        return
    started = time.monotonic()

    def stop_at_target(progress) -> None:
        if progress.kind == "epoch" and progress.row["val_wa"] >= 0.99:
            raise Reached(progress.epoch + 1)

    with tempfile.TemporaryDirectory() as run_dir:
        config = TrainConfig(Path(run_dir), epochs=40, epoch_size=1000, batch_size=32, lr=5e-3, workers=1,
                             threads=args.threads, time_limit=600)
        try:
            result = train(config, prepared.sources, prepared.validation, on_progress=stop_at_target)
            print(f"tiny did not reach val WA 0.99 in {len(result.history)} epochs of 1000 images")
        except Reached as reached:
            print(f"tiny reached val WA 0.99 on the default synthetic stream (500 held-out images) after "
                  f"{time.monotonic() - started:.0f} s, {reached.args[0]} epochs of 1000 images")


class Reached(Exception):
    """Raised from the progress callback to end the run at the target."""


if __name__ == "__main__":
    main()
