"""`digitocr read`: the text and confidence of each image (or of one region of each)."""

from __future__ import annotations

import argparse
import json

HELP = "read the number in each image with a trained model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", required=True, help="model folder (e.g. runs/tiny/best)")
    parser.add_argument("--region", metavar="X0,Y0,X1,Y1", help="read this box of each image (a screenshot)")
    parser.add_argument("--json", action="store_true", help="one JSON list of {image, text, confidence}")
    parser.add_argument("--threads", type=int, help="torch threads")


def run(args: argparse.Namespace) -> int:
    from digitocr.reader import Reader, parse_box

    region = parse_box(args.region) if args.region else None
    reader = Reader(args.model, threads=args.threads)
    readings = reader.read_batch(args.images, region)
    if args.json:
        print(json.dumps([{"image": image, "text": reading.text, "confidence": round(reading.confidence, 4)}
                          for image, reading in zip(args.images, readings)], indent=2))
    else:
        for image, reading in zip(args.images, readings):
            print(f"{image}\t{reading.text}\t{reading.confidence:.3f}")
    return 0
