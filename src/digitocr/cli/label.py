"""`digitocr label DIR`: label crops in the browser; `--import`/`--export` convert other tools' labels."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from digitocr.cli.options import port
from digitocr.errors import UserError

if TYPE_CHECKING:
    from digitocr.label.folder import LabelRule

HELP = "label a folder of crops in the browser (pre-filled by a model), or import/export other tools' labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from digitocr.label.formats import FORMATS

    parser.add_argument("folder", type=Path, help="folder of crops (labels go to LABEL_ID.ext or labels.tsv)")
    parser.add_argument("--model", help="model whose readings pre-fill the page (lowest confidence first)")
    parser.add_argument("--port", type=port, default=8000, help="port on 127.0.0.1 (the next free if taken)")
    parser.add_argument("--charset", help="characters a label may use (default: the model's, else any that "
                                          "--format allows, else digits)")
    parser.add_argument("--format", help="labels must fit this format: int, signed, decimal:N, time, re:…")
    parser.add_argument("--profile", type=Path, help="take the format and model from this profile's --region")
    parser.add_argument("--region", help="the profile region the crops come from")
    parser.add_argument("--store", choices=("names", "tsv"),
                        help="where labels go (default: labels.tsv if the folder has one, else file names)")
    parser.add_argument("--review", action="store_true",
                        help="show labelled crops too, pre-filled with their label (watch's doubtful crops)")
    parser.add_argument("--no-browser", action="store_true", help="only print the address")
    convert = parser.add_argument_group("converting (instead of opening the page)")
    convert.add_argument("--import", dest="import_from", type=Path, metavar="SOURCE",
                         help="add the crops of a rec_gt.txt, a Label Studio JSON export or a TRDG folder")
    convert.add_argument("--export", dest="export_to", type=Path, metavar="DEST",
                         help="write the labelled crops as rec_gt.txt + crop_img/, Label Studio JSON or TRDG")
    convert.add_argument("--as", dest="as_format", choices=FORMATS,
                         help="the format of SOURCE/DEST (default: guessed from the name)")
    convert.add_argument("--images", type=Path, metavar="DIR",
                         help="where a Label Studio export's images are (default: beside the JSON)")


def run(args: argparse.Namespace) -> int:
    if args.import_from or args.export_to:
        return _convert(args)
    from digitocr.label.app import bind_port, create_app, decode_crops, serve
    from digitocr.label.folder import LabelFolder

    rule, model = _rule(args)
    reader = None
    if model:
        from digitocr.reader import Reader

        reader = Reader(model)
        if args.charset is None:
            rule.charset = reader.charset.chars
    sock = bind_port(args.port)
    port = sock.getsockname()[1]
    address = f"http://127.0.0.1:{port}/"
    try:
        folder = LabelFolder.open(args.folder, rule, args.store, address, review=args.review)
    except BaseException:
        sock.close()
        raise
    try:
        if folder.not_images:
            print(f"skipped {len(folder.not_images)} file(s) that are not images: "
                  f"{', '.join(folder.not_images)}", file=sys.stderr)
        pictures = decode_crops(folder, reader.read_batch if reader else None)
        for crop in folder.crops:
            if crop.error:
                print(f"cannot decode {crop.path.name}: shown as such in the page", file=sys.stderr)
        if port != args.port:
            print(f"port {args.port} is in use: using {port}", file=sys.stderr)
        counts = folder.counts()
        print(f"labelling {counts['waiting']} crop(s) of {folder.folder} at {address}  (Ctrl+C to stop)",
              flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(address)
        signal.signal(signal.SIGTERM, _interrupt)  # uvicorn re-raises the signal once it has shut down
        with contextlib.suppress(KeyboardInterrupt):
            serve(create_app(folder, pictures), sock)
    finally:
        folder.close()
        sock.close()
    counts = folder.counts()
    print(f"{counts['labelled']} labelled, {counts['unreadable']} unreadable, "
          f"{counts['waiting']} still waiting")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _rule(args: argparse.Namespace) -> tuple[LabelRule, str | None]:
    """The label rule (charset, format) and the model, from the options and the profile."""
    from digitocr.label.folder import LabelRule

    model, format_spec = args.model, args.format
    if (args.profile is None) != (args.region is None):
        raise UserError("--profile and --region go together")
    if args.profile is not None:
        from digitocr.profile import load_profile

        profile = load_profile(args.profile)
        if args.region not in profile.regions:
            raise UserError(f"{args.profile} has no region {args.region!r} "
                            f"(it has {', '.join(profile.regions)})")
        region = profile.regions[args.region]
        model = model or region.model or profile.model
        format_spec = format_spec or region.format
    rule = LabelRule(args.charset or (None if format_spec else "0123456789"))
    if format_spec:
        from digitocr.formats import parse_format

        number_format = parse_format(format_spec)
        rule.pattern, rule.format_name = number_format.pattern, format_spec
    return rule, model


def _convert(args: argparse.Namespace) -> int:
    from digitocr.label.formats import export_labels, import_labels

    if args.import_from and args.export_to:
        raise UserError("--import and --export are two runs: give one of them")
    if args.import_from:
        result = import_labels(args.import_from, args.folder, args.as_format, images=args.images,
                               store=args.store)
        action = f"imported {result.written} crop(s) from {args.import_from} into {args.folder}"
    else:
        result = export_labels(args.folder, args.export_to, args.as_format)
        action = f"exported {result.written} crop(s) of {args.folder} to {args.export_to}"
    for problem in result.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    print(action)
    return 0
