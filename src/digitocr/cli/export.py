"""`digitocr export`: model.onnx (and model.int8.onnx) in model folders, so reading needs ONNX Runtime, no torch."""

from __future__ import annotations

import argparse

HELP = "export model folders to ONNX (model.onnx beside the weights; dynamic batch and width)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model folder (e.g. runs/tiny/best)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running the graph in ONNX Runtime against torch")
    parser.add_argument("--int8", action="store_true",
                        help="also write model.int8.onnx, 8-bit weights for faster reading (`--backend onnx-int8`), "
                             "refused when it reads synthetic crops differently too often")


def run(args: argparse.Namespace) -> int:
    from digitocr.export import export_onnx
    from digitocr.quantize import export_int8

    for model in args.models:
        print(export_onnx(model, check=not args.no_check))
        if args.int8:
            print(export_int8(model))
    return 0
