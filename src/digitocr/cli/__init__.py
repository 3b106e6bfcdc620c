"""The `digitocr` command: one sub-command per module, each a thin layer over the library.

Every sub-command module defines `HELP`, `add_arguments(parser)` and `run(args) -> int`, and
imports heavy libraries (torch) inside `run`, so `digitocr --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from digitocr.cli.options import OneLineParser
from digitocr.errors import UserError

COMMANDS = {
    "generate": "digitocr.cli.generate",
    "fonts": "digitocr.cli.fonts",
    "train": "digitocr.cli.train",
    "eval": "digitocr.cli.eval",
    "read": "digitocr.cli.read",
    "glyphs": "digitocr.cli.glyphs",
    "fit": "digitocr.cli.fit",
    "export": "digitocr.cli.export",
    "profile": "digitocr.cli.profile",
    "serve": "digitocr.cli.serve",
    "capture": "digitocr.cli.capture",
    "watch": "digitocr.cli.watch",
    "label": "digitocr.cli.label",
    "refine": "digitocr.cli.refine",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every sub-command's parser, or only the one named `only`: running a command then imports (and,
    without bytecode caches, compiles) no other command's module."""
    parser = OneLineParser(prog="digitocr", description="Read the numbers on a screen.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


_started: float | None = None


def command_started() -> float:
    """When the running command started (`time.monotonic()`): a time limit counted from here (fit's) covers the
    imports and setup the user waits for too. Now, outside a command."""
    return _started if _started is not None else time.monotonic()


def main(argv: list[str] | None = None) -> int:
    global _started
    _started = time.monotonic()
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named with the command, as its other mistakes are
        parser.exit(2, f"digitocr {args.command}: error: unrecognized arguments: {' '.join(unknown)}\n")
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        print(f"digitocr {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"digitocr {args.command}: interrupted", file=sys.stderr)
        return 130


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())
