"""`digitocr refine IN... -o OUT (--profile P | --region BOX)`: crop and refine screenshots for labelling."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digitocr.cli.options import positive_int
from digitocr.errors import UserError

HELP = "crop regions out of screenshots and refine them (grayscale, invert, threshold) as reading does"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="screenshots, or folders of them")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the refined crops")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--profile", type=Path, help="a screen profile (TOML): its regions and their refine")
    where.add_argument("--region", metavar="[NAME=]X0,Y0,X1,Y1",
                       help="one box in whole pixels, or in ratios of the frame (81/1280,220/720,...)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="with --profile: refine only this region (repeatable)")
    parser.add_argument("--grayscale", action=argparse.BooleanOptionalAction, default=None,
                        help="convert to gray (default yes)")
    parser.add_argument("--invert", choices=("auto", "yes", "no"),
                        help="make the digits dark on light: auto by the border's polarity (default no)")
    parser.add_argument("--threshold", help="brighter than N turns white: 0-255, otsu or none (default none)")
    parser.add_argument("--resize-height", type=positive_int, metavar="H", help="scale every crop to H pixels high")
    parser.add_argument("--preview", type=Path, metavar="FILE.png",
                        help="a sheet of samples: raw, refined, and at other thresholds")
    parser.add_argument("--overwrite", action="store_true", help="replace crops already in the output folder (and an existing --preview)")


def run(args: argparse.Namespace) -> int:
    from digitocr.files import check_output
    from digitocr.profile import Refine, load_profile
    from digitocr.refine import list_inputs, refine_images, region_profile, with_refine, write_preview

    if args.preview is not None:
        check_output(str(args.preview), args.overwrite)
    changes = _refine_changes(args)
    if args.profile is not None:
        profile = with_refine(load_profile(args.profile), changes, args.only)
    else:
        if args.only:
            raise UserError("--only picks regions of a --profile")
        profile = region_profile(args.region, Refine(**changes))  # type: ignore[arg-type]
    images, skipped = list_inputs(args.inputs)
    if args.preview is not None:
        print(f"preview: {write_preview(images, profile, args.preview)}", file=sys.stderr)
    result = refine_images(images, args.output, profile, overwrite=args.overwrite)
    for problem in skipped + result.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"refined {len(result.written)} crop(s) of {len(images)} image(s) into {args.output}")
    return 0


def _refine_changes(args: argparse.Namespace) -> dict[str, object]:
    """The refine options given on the command line (they override the profile's)."""
    changes: dict[str, object] = {}
    if args.grayscale is not None:
        changes["grayscale"] = args.grayscale
    if args.invert is not None:
        changes["invert"] = args.invert
    if args.threshold is not None:
        text = args.threshold.strip().lower()
        if text in ("none", "otsu"):
            changes["threshold"] = None if text == "none" else "otsu"
        elif text.isdigit() and 0 <= int(text) <= 255:
            changes["threshold"] = int(text)
        else:
            raise UserError(f"--threshold is 0-255, otsu or none, got {args.threshold!r}")
    if args.resize_height is not None:
        if args.resize_height < 8:
            raise UserError("--resize-height must be at least 8")
        changes["resize_height"] = args.resize_height
    return changes
