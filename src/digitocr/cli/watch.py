"""`digitocr watch`: read a profile's regions on a live screen or window, or through a recorded video."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from digitocr.cli.capture import add_source_arguments, announce_changes, report_unreadable, stop_on_ctrl_c
from digitocr.cli.options import add_backend_option, non_negative_int, positive, positive_int, probability

HELP = "read a profile's regions live (screen, window) or through a video, with checks over time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--model", help="model folder (default: the profile's, else the shipped model)")
    add_backend_option(parser)
    parser.add_argument("--threads", type=positive_int, default=1, help="inference threads (default 1)")
    parser.add_argument("--hz", type=positive, help="live sources: frames per second (default 30)")
    parser.add_argument("--jsonl", metavar="FILE|-", help="one JSON object per frame ('-': standard output)")
    parser.add_argument("--csv", metavar="FILE|-", help="one CSV line per frame ('-': standard output)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --jsonl/--csv/--plot files")
    parser.add_argument("--save-doubtful", metavar="DIR", help="save crops of doubtful readings for labelling")
    parser.add_argument("--plot", metavar="FILE.png", help="draw each region's value over time at the end")
    parser.add_argument("--min-confidence", type=probability, metavar="C",
                        help="readings below C are doubtful (default: each region's min_confidence)")
    parser.add_argument("--persist", type=positive, default=2.0, metavar="S",
                        help="accept a value that breaks max_rate/monotonic once read consistently for S seconds")
    parser.add_argument("--tolerance", type=non_negative_int, metavar="N",
                        help="a region is read again when a pixel changed by more than N grey levels "
                             "(default: 0 for live sources, 64 for videos and folders)")
    parser.add_argument("--quiet", action="store_true", help="no live table or progress bar")


class Display:
    """The live table (redrawn in place on a terminal, at most ten times a second) or, for a recorded
    source, a progress bar; both on standard error so standard output can carry JSONL/CSV."""

    def __init__(self, source: Any, enabled: bool) -> None:
        self.terminal = enabled and sys.stderr.isatty()
        self.bar = None
        if enabled and not source.live:
            from tqdm import tqdm

            self.bar = tqdm(total=source.length, unit="frame", file=sys.stderr, dynamic_ncols=True)
        self._last_draw = 0.0
        self._lines = 0
        self._reads: dict[str, list[float]] = {}

    def show(self, row: Any) -> None:
        from digitocr.watch import table

        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        for name, value in row.regions.items():
            stamps = self._reads.setdefault(name, [])
            if value.fresh:
                stamps.append(now)
            while stamps and now - stamps[0] > 1.0:
                stamps.pop(0)
        if not self.terminal or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        text = table(row, {name: float(len(stamps)) for name, stamps in self._reads.items()})
        sys.stderr.write((f"\x1b[{self._lines}F" if self._lines else "") + "\x1b[J" + text + "\n")
        sys.stderr.flush()
        self._lines = text.count("\n") + 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from digitocr.errors import UserError
    from digitocr.files import check_output
    from digitocr.frames import open_source
    from digitocr.profile import load_profile
    from digitocr.reader import Reader
    from digitocr.watch import CsvSink, DoubtfulSaver, JsonlSink, Series, Watcher, open_output

    if args.profile is None:
        raise UserError("watch needs --profile P: the regions to read")
    if args.jsonl == "-" and args.csv == "-":
        raise UserError("only one of --jsonl and --csv can go to standard output")
    for target in (args.jsonl, args.csv):
        if target is not None:
            check_output(target, args.overwrite)
    if args.plot is not None and Path(args.plot).suffix.lower() != ".png":
        raise UserError(f"--plot writes a PNG: give a name ending in .png, not {args.plot}")
    if args.plot is not None:
        check_output(args.plot, args.overwrite)
    profile = load_profile(args.profile)
    if args.model:
        profile = profile.with_model(args.model)
    reader = Reader(profile.model, backend=args.backend, threads=args.threads)
    regions = list(profile.regions)
    with open_source(args.source, window_index=args.window_index, every=args.every, fps=args.fps) as source:
        if args.hz is not None and not source.live:
            raise UserError("--hz paces live sources; sample a video or folder with --every N or --fps F")
        watcher = Watcher(reader, profile, min_confidence=args.min_confidence, tolerance=args.tolerance,
                          persist=args.persist)
        sinks: list[JsonlSink] | None = None
        series = Series() if args.plot else None
        doubtful = DoubtfulSaver(Path(args.save_doubtful), profile, source.clock) if args.save_doubtful else None
        display = Display(source, enabled=not args.quiet)
        frames = 0
        try:
            with stop_on_ctrl_c() as stop:
                for row, crops in watcher.run(source, interval=1.0 / (args.hz or 30.0), count=args.count,
                                              duration=args.duration, stop=stop, on_unavailable=announce_changes()):
                    if sinks is None:  # opened once the first frame showed the profile fits the source
                        sinks = ([JsonlSink(open_output(args.jsonl, args.overwrite))] if args.jsonl else []) + \
                                ([CsvSink(open_output(args.csv, args.overwrite), regions)] if args.csv else [])
                    for sink in sinks:
                        sink.write(row)
                    if doubtful is not None:
                        doubtful.save(row, crops)
                    if series is not None:
                        series.add(row)
                    display.show(row)
                    frames += 1
        finally:
            display.close()
            for sink in sinks or []:
                sink.close()
            if series is not None and frames:
                series.plot(args.plot, regions, source.clock)
    report_unreadable(source)
    skipped = 1 - watcher.reads / max(1, frames * len(regions))
    saved = f", {doubtful.saved} doubtful crops in {args.save_doubtful}" if doubtful is not None else ""
    print(f"{frames} frames of the {source.description}: {watcher.reads} region reads "
          f"({skipped:.0%} skipped as unchanged){saved}", file=sys.stderr)
    return 0
