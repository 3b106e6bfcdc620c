"""Every knob of a training run, typed, in one place: the trainer, the CLI (its defaults), `fit` and
`--resume` (the run's stored copy) all read this dataclass.

No torch here, so `digitocr train --help` shows the defaults without loading it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitocr.charset import DIGITS
from digitocr.data import Augment, DataSpec
from digitocr.errors import UserError
from digitocr.mapping import Mapped
from digitocr.preprocess import Preprocess

MONITORS = ("val_wa", "val_ca", "val_loss")
SCHEDULES = ("onecycle", "cosine", "constant")
OPTIMIZERS = ("adam", "adamw")
SYNTHETIC_EPOCH_SIZE = 5000  # samples per epoch when there is no folder data to count


@dataclass
class TrainConfig(Mapped):
    """Every knob of a run (the seed edited most of these by hand in train.py)."""

    run_dir: Path
    architecture: str = "tiny"
    architecture_options: dict[str, Any] = field(default_factory=dict)  # e.g. tiny's channels and hidden
    charset: str = DIGITS
    preprocess: Preprocess = field(default_factory=Preprocess)
    epochs: int = 10
    steps: int | None = None            # stop after this many optimizer steps in all
    time_limit: float | None = None     # seconds for this invocation
    epoch_size: int | None = None       # samples per epoch; default: the folder data, or 5000 synthetic
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    warmup: float = 0.1                 # onecycle: fraction of the run spent warming up
    grad_clip: float | None = 5.0
    patience: int | None = None         # early stopping: epochs without improvement
    monitor: str = "val_wa"
    force_save: bool = False            # the seed's flag: write best/ every epoch even when not better
    curriculum_epochs: int = 0
    augment: Augment | None = field(default_factory=Augment)
    seed: int = 0
    workers: int = 1                    # background processes building batches
    threads: int | None = None
    device: str = "auto"
    resume: bool = False
    init_from: str | None = None       # a model folder whose weights the run starts from (fit --resume)
    overwrite: bool = False
    max_bad_batches: int = 20           # NaN/inf losses in a row before giving up
    batch_parts: int = 1                # batches drawn in this many seeded parts (torchrun: one per process)
    curves: bool = True                 # draw curves.png at the end (a second or more: short fits skip it)
    data: DataSpec = field(default_factory=DataSpec)  # what it trains on, so --resume can rebuild it

    MAPPING_NAME = "training configuration"

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        if isinstance(self.data, dict):  # the mapping form, as runs of release 0.1.0 stored it
            self.data = DataSpec.from_mapping(self.data)
        checks = [
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (self.monitor in MONITORS, f"--monitor must be one of {', '.join(MONITORS)}"),
            (self.lr > 0 and math.isfinite(self.lr), "--lr must be a positive number"),
            (self.batch_size > 0, "--batch-size must be positive"),
            (self.epochs > 0, "--epochs must be positive"),
            (self.steps is None or self.steps > 0, "--steps must be positive"),
            (self.time_limit is None or self.time_limit > 0, "--time-limit must be positive"),
            (self.workers >= 0, "--workers cannot be negative"),
            (self.epoch_size is None or self.epoch_size > 0, "--epoch-size must be positive"),
            (self.patience is None or self.patience > 0, "--patience must be positive"),
            (self.threads is None or self.threads > 0, "--threads must be positive"),
            (self.seed >= 0, "--seed cannot be negative"),
            (0 < self.data.val_fraction < 1, "--val-split must be between 0 and 1"),
            (self.data.val_size > 0, "--val-size must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
