"""Option types that check their range where the option is parsed: a mistake fails in the first second,
with argparse's one error line and exit 2, before any work or any file is written."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

READER_BACKENDS = ("auto", "onnx", "onnx-int8", "torch")  # digitocr.reader.BACKENDS (that module loads numpy)


def add_backend_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """`--backend`, as every reading command takes it."""
    parser.add_argument("--backend", default="auto", choices=READER_BACKENDS,
                        help="auto: model.onnx on ONNX Runtime when the folder has it, else torch; onnx-int8: the "
                             "8-bit graph of `digitocr export --int8` (faster; a few readings differ)")


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser with each mistake on one line, `digitocr read: error: argument --range: ...`, like
    the errors found later (the usage stays in --help). Sub-command parsers take the class of their parent."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number of at least `minimum` (and at most `maximum`)."""

    def parse(text: str) -> int:
        value = int(_number(int, text))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse


def real(low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
         ) -> Callable[[str], float]:
    """A finite number in the range from `low` to `high` (each end included unless open)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    described = f"{left}{low:g}, {high:g}{right}" if math.isfinite(high) else f"{left}{low:g}, ∞)"

    def parse(text: str) -> float:
        value = float(_number(float, text))
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            raise argparse.ArgumentTypeError(f"must be in {described}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = whole(1)
non_negative_int = whole(0)
positive = real(0.0, low_open=True)
non_negative = real(0.0)
probability = real(0.0, 1.0)
fraction = real(0.0, 1.0, low_open=True, high_open=True)
port = whole(0, 65535)


def box(text: str) -> tuple[int, int, int, int]:
    """X0,Y0,X1,Y1 in whole pixels (the reader's own parsing, checked at parse time)."""
    from digitocr.errors import UserError
    from digitocr.reader import parse_box

    try:
        return parse_box(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def value_range(text: str) -> tuple[float, float]:
    """LOW,HIGH: two finite numbers, LOW at most HIGH."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise argparse.ArgumentTypeError(f"expected finite LOW <= HIGH, got {text!r}")
    return low, high


def non_empty(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def folder_name(text: str) -> str:
    """One folder name: not empty, no path separators, not '.' or '..'."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"must be one folder name (no '/', not '..'), got {text!r}")
    return text
