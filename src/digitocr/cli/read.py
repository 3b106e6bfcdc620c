"""`digitocr read`: the checked reading of each image, of one box of each, or of every region of a profile."""

from __future__ import annotations

import argparse
import json

from digitocr.cli.options import add_backend_option, box, non_empty, positive_int, probability, value_range

HELP = "read the number in each image (or each region of a screen profile) with a trained model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", type=non_empty, help="model folder (e.g. runs/tiny/best; default: the profile's, or the "
                                        "shipped model)")
    parser.add_argument("--region", type=box, metavar="X0,Y0,X1,Y1",
                        help="read this box of each image (a screenshot)")
    parser.add_argument("--profile", metavar="TOML", help="read every region of this screen profile")
    parser.add_argument("--format", help="int, signed, decimal:N, signed-decimal:N, percent, time:m:ss.fff, re:RE")
    parser.add_argument("--range", type=value_range, metavar="LOW,HIGH", help="plausible values, e.g. 0,400")
    parser.add_argument("--min-confidence", type=probability, default=0.5, metavar="P",
                        help="readings below this are low_confidence (0.5)")
    add_backend_option(parser)
    parser.add_argument("--json", action="store_true", help="JSON: every reading with value, status, reason")
    parser.add_argument("--threads", type=positive_int, help="inference threads")


def run(args: argparse.Namespace) -> int:
    from digitocr.errors import UserError
    from digitocr.profile import load_profile
    from digitocr.reader import Reader

    if args.profile and args.region is not None:
        raise UserError("give --region or --profile, not both")
    profile = load_profile(args.profile) if args.profile else None
    if profile is not None and args.model:
        profile = profile.with_model(args.model)
    reader = Reader(args.model or (profile.model if profile else None), backend=args.backend, threads=args.threads,
                    format=args.format, value_range=args.range, min_confidence=args.min_confidence)
    if profile is not None:
        results = [reader.read_screen(image, profile) for image in args.images]
    else:
        results = [{"": reading} for reading in reader.read_batch(args.images, args.region)]
    if args.json:
        print(json.dumps([{"image": image, **({"region": name} if name else {}), **reading.to_dict()}
                          for image, readings in zip(args.images, results) for name, reading in readings.items()],
                         indent=2))
    else:
        for image, readings in zip(args.images, results):
            for name, reading in readings.items():
                where = f"{image}:{name}" if name else image
                detail = f"\t{reading.reason}" if reading.reason else ""
                print(f"{where}\t{reading.text}\t{reading.confidence:.3f}\t{reading.status}{detail}")
    return 0
