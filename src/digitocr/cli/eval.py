"""`digitocr eval`: the seed's two accuracy lines for a model on labelled folders, and more."""

from __future__ import annotations

import argparse
import json
import sys

from digitocr.cli.options import non_negative_int, positive_int

HELP = "evaluate a model on labelled image folders (Character Accuracy, Word Accuracy)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", metavar="DIR", help="folders of LABEL_anything.ext or labels.tsv")
    parser.add_argument("--model", required=True, help="model folder (e.g. runs/tiny/best)")
    parser.add_argument("--json", action="store_true", help="print a JSON report instead")
    parser.add_argument("--grid", metavar="PNG", help="picture of the crops titled with their readings")
    parser.add_argument("--csv", metavar="FILE", help="every reading with its confidence")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --grid/--csv files")
    parser.add_argument("--worst", type=non_negative_int, default=10, metavar="N", help="wrong readings listed (10)")
    parser.add_argument("--strict", action="store_true", help="unreadable files or bad labels are errors")
    parser.add_argument("--threads", type=positive_int, help="torch threads")


def run(args: argparse.Namespace) -> int:
    from digitocr.data import describe_skipped, load_labelled
    from digitocr.errors import UserError
    from digitocr.evaluate import evaluate, save_grid, summary_lines, write_csv
    from digitocr.files import check_output
    from digitocr.reader import Reader

    for target in (args.grid, args.csv):
        if target is not None:
            check_output(target, args.overwrite)
    reader = Reader(args.model, threads=args.threads)
    samples = load_labelled(args.folders, reader.charset, strict=args.strict)
    if not samples.labels:
        detail = f" ({describe_skipped(samples.skipped)})" if samples.skipped else ""
        raise UserError(f"no usable labelled images in {', '.join(args.folders)}{detail}")
    report = evaluate(reader, samples)
    if samples.skipped:
        print(f"digitocr eval: warning: {describe_skipped(samples.skipped)}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_mapping(args.worst), indent=2))
    else:
        print("\n".join(summary_lines(report, args.worst)))
    if args.grid:
        save_grid(report, samples.images, args.grid)
        print(f"grid: {args.grid}", file=sys.stderr)
    if args.csv:
        write_csv(report, args.csv)
        print(f"readings: {args.csv}", file=sys.stderr)
    return 0
