"""`digitocr capture`: save frames of the screen, a window, a video or a folder, and/or each region's crop."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from digitocr.cli.options import non_negative_int, positive, positive_int

if TYPE_CHECKING:
    from digitocr.frames import FrameSource

HELP = "save frames of a screen, window or video (and each profile region's crop) under timestamped names"



def report_unreadable(source: FrameSource) -> None:
    """Name the files a folder source passed over (shared with `watch`)."""
    if names := source.unreadable():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        print(f"skipped {len(names)} file(s) that could not be decoded: {shown}", file=sys.stderr)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """SOURCE and the options that pick or sample it (shared with `watch`)."""
    from digitocr.frames import SOURCE_HELP

    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    parser.add_argument("--window-index", type=non_negative_int, metavar="N", help="which of several matching windows (from 0)")
    parser.add_argument("--every", type=positive_int, metavar="N", help="video/folder: keep one frame in N")
    parser.add_argument("--fps", type=positive, metavar="F", help="video/folder: keep F frames per second")
    parser.add_argument("--profile", metavar="P", help="screen profile (TOML) naming the regions")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--count", type=positive_int, metavar="N", help="stop after N frames")
    stop.add_argument("--duration", type=positive, metavar="S",
                      help="stop after S seconds (of the video's clock for a video)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the images")
    parser.add_argument("--interval", type=positive, metavar="S",
                        help="live sources: seconds between frames (default 1)")
    parser.add_argument("--frames", action="store_true", help="with --profile: save whole frames too")
    parser.add_argument("--dedupe", action="store_true", help="skip an image identical to the one before it")
    parser.add_argument("--format", choices=("png", "jpg", "bmp", "webp"), default="png", help="image format")


@contextlib.contextmanager
def stop_on_ctrl_c() -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C asks the loop to stop after the frame in hand (so files end complete); a second one
    interrupts at once."""
    asked: list[bool] = []

    def handler(signum: int, frame: object) -> None:
        asked.append(True)
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)


def announce_changes() -> Callable[[str], None]:
    """Print why frames cannot be had, once per new reason (not thirty times a second)."""
    last: list[str] = [""]

    def announce(reason: str) -> None:
        if reason != last[0]:
            print(f"waiting: {reason}", file=sys.stderr, flush=True)
            last[0] = reason
    return announce


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from digitocr.capture import capture
    from digitocr.errors import UserError
    from digitocr.frames import open_source
    from digitocr.profile import load_profile

    profile = load_profile(args.profile) if args.profile else None
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file, not a folder")
    with open_source(args.source, window_index=args.window_index, every=args.every, fps=args.fps) as source:
        if args.interval is not None and not source.live:
            raise UserError("--interval paces live sources; sample a video or folder with --every N or --fps F")
        with stop_on_ctrl_c() as stop:
            summary = capture(
                source, output, interval=args.interval or 1.0, count=args.count, duration=args.duration,
                profile=profile, frames=True if args.frames else None, dedupe=args.dedupe,
                extension=f".{args.format}", stop=stop,
                on_unavailable=announce_changes())
    report_unreadable(source)
    skipped = f", {summary.duplicates} duplicates skipped" if args.dedupe else ""
    print(f"{len(summary.saved)} images from {summary.frames} frames of the {source.description} "
          f"in {output}{skipped}")
    return 0
