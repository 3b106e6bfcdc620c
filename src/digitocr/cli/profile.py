"""`digitocr profile check`: a profile's regions drawn on a screenshot, each crop beside it with its reading."""

from __future__ import annotations

import argparse

from digitocr.cli.options import add_backend_option

HELP = "check a screen profile (TOML) on a screenshot: regions, crops and readings in one picture"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help=HELP, description=HELP)
    check.add_argument("profile", metavar="PROFILE.toml")
    check.add_argument("screenshot", metavar="SCREENSHOT")
    check.add_argument("-o", "--output", metavar="PNG", help="write the check picture here")
    check.add_argument("--model", help="model folder (default: the profile's)")
    add_backend_option(check)
    check.add_argument("--overwrite", action="store_true", help="replace an existing -o picture")
    check.add_argument("--no-read", action="store_true", help="only draw the regions and their crops")


def run(args: argparse.Namespace) -> int:
    from digitocr.files import check_output
    from digitocr.images import open_image, save_image
    from digitocr.profile import crop_regions, load_profile
    from digitocr.profile_check import describe, draw_profile_check
    from digitocr.reader import Reader

    if args.output:
        check_output(args.output, args.overwrite)
    profile = load_profile(args.profile)
    frame = open_image(args.screenshot)
    crops = crop_regions(frame, profile)
    readings = None
    if not args.no_read:
        if args.model:
            profile = profile.with_model(args.model)
        readings = Reader(profile.model, backend=args.backend).read_screen(frame, profile)
    for name in profile.regions:
        print(describe(name, readings[name] if readings is not None else None))
    if args.output:
        print(f"check picture: {save_image(draw_profile_check(frame, profile, crops, readings), args.output)}")
    return 0 if readings is None or all(reading.ok for reading in readings.values()) else 1
