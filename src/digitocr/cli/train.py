"""`digitocr train`: train a model on labelled folders and/or the synthetic stream."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from digitocr.cli.options import (
    folder_name,
    fraction,
    non_empty,
    non_negative,
    non_negative_int,
    positive,
    positive_int,
    probability,
    real,
)
from digitocr.mapping import field_default
from digitocr.models import ARCHITECTURES

HELP = "train a reader (tiny CRNN + CTC by default) on image folders and/or synthetic data"

# Options --resume may change; everything else comes back from the run's saved configuration.
RESUMABLE = ("epochs", "steps", "time_limit", "workers", "threads", "device", "patience", "force_save")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from digitocr.data import Augment, DataSpec
    from digitocr.preprocess import Preprocess
    from digitocr.train_config import MONITORS, OPTIMIZERS, SCHEDULES, SYNTHETIC_EPOCH_SIZE, TrainConfig

    config = functools.partial(field_default, TrainConfig)  # the defaults live in the dataclasses
    spec, augment, preprocess = DataSpec(), Augment(), Preprocess()
    data = parser.add_argument_group("data")
    data.add_argument("--data", "--imgdir", dest="data", action="append", default=[], metavar="DIR[:WEIGHT]",
                      help="folder of LABEL_anything.ext images or with a labels.tsv (repeatable)")
    data.add_argument("--synth", action="append", default=[], metavar="'FLAGS'[:WEIGHT]",
                      help="a synthetic stream with `digitocr generate` flags, e.g. \"-k 3 -rk\" (repeatable; "
                           "'' for the defaults)")
    data.add_argument("--synth-config", action="append", default=[], metavar="FILE[:WEIGHT]",
                      help="a synthetic stream from a JSON/TOML file of generator options (repeatable)")
    data.add_argument("--val", action="append", default=[], metavar="DIR",
                      help=f"validation folder (default: a seeded {spec.val_fraction * 100:g}%% of the folders, or "
                           "held-out synthetic)")
    data.add_argument("--val-split", type=fraction, default=spec.val_fraction, metavar="F",
                      help=f"held-out fraction ({spec.val_fraction:g})")
    data.add_argument("--val-size", type=positive_int, default=spec.val_size, metavar="N",
                      help=f"held-out synthetic images ({spec.val_size})")
    data.add_argument("--epoch-size", type=positive_int, metavar="N",
                      help=f"samples per epoch (default: the folders' size, or {SYNTHETIC_EPOCH_SIZE} when only "
                           "synthetic)")
    data.add_argument("--strict", action="store_true", help="unreadable files or bad labels are errors")
    data.add_argument("--charset", type=non_empty, default=config("charset"), help="characters the model reads (0-9)")

    model = parser.add_argument_group("model")
    model.add_argument("--arch", default=config("architecture"), choices=tuple(ARCHITECTURES),
                       help=f"network ({config('architecture')})")
    model.add_argument("--binarize", action="store_true", default=preprocess.binarize,
                       help="binarise crops before the network")
    model.add_argument("--no-crop-to-ink", dest="crop_to_ink", action="store_false", default=preprocess.crop_to_ink,
                       help="keep the crops' own margins instead of trimming to the ink")

    fit = parser.add_argument_group("optimisation")
    fit.add_argument("--epochs", type=positive_int, default=None, help=f"epochs ({config('epochs')})")
    fit.add_argument("--steps", type=positive_int, help="stop after this many optimizer steps")
    fit.add_argument("--time-limit", type=positive, metavar="SECONDS", help="stop after this long")
    fit.add_argument("--batch-size", type=positive_int, default=config("batch_size"),
                     help=f"batch size ({config('batch_size')})")
    fit.add_argument("--optimizer", default=config("optimizer"), choices=OPTIMIZERS)
    fit.add_argument("--lr", type=float, default=config("lr"), help=f"peak learning rate ({config('lr'):g})")
    fit.add_argument("--weight-decay", type=non_negative, default=config("weight_decay"))
    fit.add_argument("--schedule", default=config("schedule"), choices=SCHEDULES)
    fit.add_argument("--warmup", type=real(0.0, 1.0, high_open=True), default=config("warmup"), metavar="F",
                     help=f"onecycle warm-up fraction ({config('warmup'):g})")
    fit.add_argument("--grad-clip", type=non_negative, default=config("grad_clip"), metavar="NORM",
                     help=f"0 disables ({config('grad_clip'):g})")
    fit.add_argument("--patience", type=positive_int, help="early stopping: epochs without improvement")
    fit.add_argument("--monitor", default=config("monitor"), choices=MONITORS)
    fit.add_argument("--curriculum", type=non_negative_int, default=config("curriculum_epochs"), metavar="EPOCHS",
                     help="short labels first: epoch e uses labels of at most e+2 characters")
    fit.add_argument("--no-augment", dest="augment", action="store_false", help="no train-time distortion")
    fit.add_argument("--aug-prob", type=probability, default=augment.probability,
                     help=f"share of crops distorted ({augment.probability:g})")
    fit.add_argument("--aug-rotate", type=real(0.0, 180.0), default=augment.max_rotation, metavar="DEG",
                     help=f"max rotation ({augment.max_rotation:g})")
    fit.add_argument("--aug-perspective", type=real(0.0, 0.5), default=augment.max_perspective, metavar="F",
                     help=f"corner shift ({augment.max_perspective:g})")
    fit.add_argument("--aug-pad", type=non_negative, default=augment.max_padding, metavar="F",
                     help=f"max side padding ({augment.max_padding:g})")
    fit.add_argument("--seed", type=non_negative_int, default=config("seed"))

    run_group = parser.add_argument_group("run")
    run_group.add_argument("--name", "--checkpoint", dest="name", type=folder_name, default="tiny",
                           help="run name (the seed's checkpoint name): the run goes to RUNS/NAME")
    run_group.add_argument("--runs", default="runs", metavar="DIR", help="folder of runs (runs)")
    run_group.add_argument("--resume", action="store_true", help="continue the run where it stopped")
    run_group.add_argument("--overwrite", action="store_true", help="start over in an existing run folder")
    run_group.add_argument("--force-save", action="store_true", help="write best/ every epoch, better or not")
    run_group.add_argument("--workers", type=non_negative_int, default=config("workers"),
                           help=f"background batch builders ({config('workers')})")
    run_group.add_argument("--threads", type=positive_int, help="torch threads (default: cores minus workers)")
    run_group.add_argument("--device", default=config("device"), help="auto (CUDA when available), cpu or cuda")
    run_group.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def parse_weighted(value: str) -> tuple[str, float]:
    """'THING:WEIGHT' -> (THING, WEIGHT); a value without a numeric suffix has weight 1."""
    head, colon, tail = value.rpartition(":")
    if colon:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return value, 1.0


def _refuse_changes(args: argparse.Namespace) -> None:
    """--resume continues the run as it was configured: options it cannot honour are refused, not ignored."""
    from digitocr.cli import build_parser
    from digitocr.errors import UserError

    defaults = vars(build_parser("train").parse_args(["train"]))
    kept = {*RESUMABLE, "resume", "runs", "name", "progress", "command", "handler"}
    changed = sorted(key for key, value in vars(args).items() if key not in kept and value != defaults.get(key))
    if changed:
        flags = ", ".join("--" + key.replace("_", "-") for key in changed)
        allowed = ", ".join("--" + key.replace("_", "-") for key in RESUMABLE)
        raise UserError(f"--resume continues the run with its own configuration: {flags} cannot change "
                        f"(these can: {allowed}); start a new run with --name to train otherwise")


def _config(args: argparse.Namespace) -> Any:
    import os

    from digitocr.data import Augment, DataSpec
    from digitocr.preprocess import Preprocess
    from digitocr.train import resume_config
    from digitocr.train_config import TrainConfig

    run_dir = Path(args.runs) / args.name
    threads = args.threads or max(1, (os.cpu_count() or 1) - args.workers)
    if args.resume:
        _refuse_changes(args)
        changes = {key: getattr(args, key) for key in RESUMABLE if getattr(args, key) not in (None, False)}
        return resume_config(run_dir, **{**changes, "threads": threads})
    spec = DataSpec(folders=[parse_weighted(item) for item in args.data],
                    synthetic=[parse_weighted(item) for item in args.synth],
                    synthetic_files=[parse_weighted(item) for item in args.synth_config],
                    val_folders=args.val, val_fraction=args.val_split, val_size=args.val_size,
                    strict=args.strict)
    augment = Augment(args.aug_prob, args.aug_rotate, args.aug_perspective, args.aug_pad) if args.augment else None
    return TrainConfig(
        run_dir=run_dir, architecture=args.arch, charset=args.charset,
        preprocess=Preprocess(binarize=args.binarize, crop_to_ink=args.crop_to_ink),
        epochs=args.epochs or field_default(TrainConfig, "epochs"), steps=args.steps, time_limit=args.time_limit, epoch_size=args.epoch_size,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, warmup=args.warmup, grad_clip=args.grad_clip or None,
        patience=args.patience, monitor=args.monitor, force_save=args.force_save,
        curriculum_epochs=args.curriculum, augment=augment, seed=args.seed, workers=args.workers,
        threads=threads, device=args.device, overwrite=args.overwrite, data=spec)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from digitocr.charset import Charset
    from digitocr.data import describe_skipped, prepare_data
    from digitocr.train import TrainProgress, train

    config = _config(args)
    data = prepare_data(config.data, Charset(config.charset), config.preprocess, config.seed)
    if data.skipped:
        print(f"digitocr train: warning: {describe_skipped(data.skipped)}", file=sys.stderr)
    sources = ", ".join(f"{source.name} x{weight:g}" for source, weight in data.sources)
    print(f"training {config.architecture} on {sources}; validating on {len(data.validation)} images")
    bar = None

    def show(progress: TrainProgress) -> None:
        nonlocal bar
        if progress.kind == "epoch":
            row = progress.row or {}
            if bar is not None:
                bar.close()
                bar = None
            tqdm.write(f"epoch {row['epoch']:g}: loss {row['train_loss']:.4f}/{row['val_loss']:.4f}  "
                       f"CA {row['train_ca']:.2f}/{row['val_ca']:.2f}  WA {row['train_wa']:.3f}/{row['val_wa']:.3f}"
                       "  (train/val)")
            return
        if not args.progress or not sys.stderr.isatty():
            return
        if bar is None:
            bar = tqdm(total=progress.batches_per_epoch, desc=f"epoch {progress.epoch + 1}", unit="batch",
                       leave=False, file=sys.stderr)
            bar.update(progress.batch - 1)
        bar.update(1)
        bar.set_postfix(loss=f"{progress.loss:.3f}", lr=f"{progress.lr:.1e}", refresh=False)

    try:
        result = train(config, data.sources, data.validation, on_progress=show)
    finally:
        if bar is not None:
            bar.close()
    final = result.history[-1] if result.history else {}
    if final:
        print(f"validation: Character Accuracy: {final['val_ca']:.2f}, Word Accuracy: {final['val_wa']:.2f}")
    print(f"stopped by {result.stopped_because} after {result.steps} steps "
          f"({result.images_per_second:.0f} images/s); {result.skipped_batches} batches skipped")
    print(f"best model: {result.best_dir}\nlast model: {result.last_dir}\nlog: {result.log_path}\n"
          f"curves: {result.curves_path}")
    return 0
