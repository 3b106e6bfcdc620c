"""`digitocr generate`: write a synthetic dataset; TRDG's command lines run unchanged."""

from __future__ import annotations

import argparse
import sys

HELP = "write synthetic text images (LABEL_INDEX.EXT + labels.tsv); accepts TRDG's flags"
CONTACT_SHEET_IMAGES = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from digitocr.synth.flags import add_generator_arguments

    output = parser.add_argument_group("dataset")
    output.add_argument("-c", "--count", type=int, default=1000, metavar="N", help="images to write (default 1000)")
    output.add_argument("--output_dir", "--output-dir", dest="output_dir", default="out", metavar="DIR",
                        help="where to write (default out)")
    output.add_argument("-t", "--thread_count", "--workers", dest="workers", type=int, default=1, metavar="N",
                        help="worker processes (default 1)")
    existing = output.add_mutually_exclusive_group()
    existing.add_argument("--append", action="store_true",
                          help="add to the labelled images already in the folder (new indices, labels.tsv extended)")
    existing.add_argument("--overwrite", action="store_true",
                          help="replace the folder's labels.tsv with the new images (other files stay)")
    output.add_argument("--contact-sheet", dest="contact_sheet", metavar="PNG",
                        help=f"also write a grid picture of the first {CONTACT_SHEET_IMAGES} images")
    add_generator_arguments(parser)


def _warn(message: str) -> None:
    print(f"digitocr generate: warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from PIL import Image
    from tqdm import tqdm

    from digitocr.errors import UserError
    from digitocr.images import open_image, save_image
    from digitocr.labels import read_labels_tsv
    from digitocr.synth.flags import config_from_arguments
    from digitocr.synth.generate import TextImageGenerator
    from digitocr.synth.sheet import contact_sheet
    from digitocr.synth.writer import write_dataset

    dataset_options = ("count", "output_dir", "workers", "contact_sheet", "append", "overwrite", "command", "handler")
    config = config_from_arguments(argparse.Namespace(
        **{key: value for key, value in vars(args).items() if key not in dataset_options}))
    if args.count <= 0:
        raise UserError(f"count must be at least 1, got {args.count}")
    if args.workers <= 0:
        raise UserError(f"workers must be at least 1, got {args.workers}")
    fonts = TextImageGenerator(config, warn=_warn).fonts  # resolve once, warning about skipped fonts here
    tqdm.monitor_interval = 0  # no monitor thread: helpers are forked from this process
    with tqdm(total=args.count, unit="img", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        manifest = write_dataset(config, args.output_dir, args.count, args.workers,
                                 on_progress=lambda done, _: bar.update(done - bar.n), fonts=fonts,
                                 start_method="fork",  # this process runs no threads of its own
                                 append=args.append, overwrite=args.overwrite)
    print(f"wrote {args.count} images to {manifest.parent} (manifest {manifest.name})")
    if args.contact_sheet:
        samples = [(Image.fromarray(open_image(path)), label)
                   for path, label in read_labels_tsv(manifest)[:CONTACT_SHEET_IMAGES]]
        sheet_path = save_image(contact_sheet(samples), args.contact_sheet)
        print(f"contact sheet: {sheet_path}")
    return 0
