"""`digitocr fit SAMPLES -o RUN`: from a few labelled crops of a display to a model that reads it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digitocr.cli.options import non_empty, non_negative_int, positive

HELP = "fit a model to a display from a few labelled crops (glyph bank + matched fonts + training)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("samples", type=Path, help="folder of labelled crops (LABEL_anything.png or labels.tsv)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="run folder to write")
    parser.add_argument("--time-limit", type=positive, metavar="S",
                        help="seconds for the whole command, training included (default 15 from the general model; "
                             "180 from scratch; 45 from another model or continuing another fit)")
    parser.add_argument("--charset", type=non_empty, default="0123456789", help="characters to read (default digits)")
    parser.add_argument("--holdout", type=Path, metavar="DIR", help="labelled crops to evaluate on")
    parser.add_argument("--font", action="append", default=[], metavar="FONT",
                        help="another font file, folder or family to match against (repeatable)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace a fit already in the run folder")
    parser.add_argument("--keep-suspicious", action="store_true",
                        help="train on crops whose label looks wrong too (by default they are named and left out)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", type=Path, metavar="RUN",
                       help="continue an earlier fit (its model, crops and holdout) with SAMPLES added")
    start.add_argument("--from", dest="start_from", metavar="MODEL", default="general",
                       help="the model whose weights training starts from: 'general' (default), the shipped general "
                            "model; 'scratch', random weights (a `tiny` network); or a model folder")


def run(args: argparse.Namespace) -> int:
    from digitocr.cli import command_started
    from digitocr.files import check_output_folder
    from digitocr.fit import GENERAL, SCRATCH, Continuation, FitProgress, fit

    check_output_folder(args.output, "fit.json", "a fitted model", args.overwrite)

    def show(progress: FitProgress) -> None:
        if progress.metrics:
            m = progress.metrics
            print(f"  {progress.message}: loss {m['train_loss']:.3f}, val CA {m['val_ca']:.2f}, "
                  f"val WA {m['val_wa']:.2f}", file=sys.stderr)
        else:
            print(f"{progress.stage}: {progress.message}", file=sys.stderr)

    start = (Continuation.of_run(args.resume) if args.resume else args.start_from
             if args.start_from in (GENERAL, SCRATCH) else Continuation(Path(args.start_from)))
    result = fit(args.samples, args.output, time_limit=args.time_limit, charset=args.charset,
                 holdout=args.holdout, fonts=args.font, seed=args.seed, overwrite=args.overwrite,
                 on_progress=show, start=start, keep_suspicious=args.keep_suspicious,
                 started=command_started())
    print(f"model: {result.model_dir}")
    print(f"report: {result.report_path}")
    print(f"evaluated on {result.evaluated_on}:")
    print(f"Character Accuracy: {result.character_accuracy:.2f}")
    print(f"Word Accuracy: {result.word_accuracy:.2f}")
    if result.before is not None:
        before = result.before
        print(f"before (the model it started from, same crops): Character Accuracy "
              f"{before['character_accuracy']:.2f}, Word Accuracy {before['word_accuracy']:.2f}")
    print(f"took {result.seconds:.0f} s")
    return 0
