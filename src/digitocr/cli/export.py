"""`digitocr export`: write model.onnx into model folders, so reading needs ONNX Runtime and no torch."""

from __future__ import annotations

import argparse

HELP = "export model folders to ONNX (model.onnx beside the weights; dynamic batch and width)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model folder (e.g. runs/tiny/best)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running the graph in ONNX Runtime against torch")


def run(args: argparse.Namespace) -> int:
    from digitocr.export import export_onnx

    for model in args.models:
        print(export_onnx(model, check=not args.no_check))
    return 0
