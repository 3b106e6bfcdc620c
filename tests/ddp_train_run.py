"""A small training run for tests/test_distributed.py, in one process or under torchrun.

    python tests/ddp_train_run.py RUN_DIR [--batch-parts N] [--lr-on-rank-1 LR]
"""

from __future__ import annotations

import argparse
import os
import sys

from digitocr.charset import Charset
from digitocr.data import DataSpec, prepare_data
from digitocr.errors import UserError
from digitocr.preprocess import Preprocess
from digitocr.train import TrainConfig, train


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--batch-parts", type=int, default=1)
    parser.add_argument("--lr-on-rank-1", type=float)
    args = parser.parse_args()
    lr = 3e-3
    if args.lr_on_rank_1 is not None and os.environ.get("RANK") == "1":
        lr = args.lr_on_rank_1  # a launch whose processes disagree
    spec = DataSpec(synthetic=[("-ft roboto-mono -ft seg7 --range 0-999 -b 1", 1.0)], val_size=64)
    config = TrainConfig(run_dir=args.run_dir, steps=int(os.environ.get("STEPS", "10")), epochs=1, epoch_size=16 * 10, batch_size=16, lr=lr,
                         seed=7, workers=0, threads=1, device="cpu", overwrite=True, augment=None,
                         batch_parts=args.batch_parts, data=spec.to_mapping())
    data = prepare_data(spec, Charset(config.charset), Preprocess(), config.seed)
    try:
        result = train(config, data.sources, data.validation)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"steps {result.steps} val_loss {result.history[-1]['val_loss']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
