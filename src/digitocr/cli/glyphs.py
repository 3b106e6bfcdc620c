"""`digitocr glyphs SAMPLES -o BANK`: cut labelled crops into a glyph bank."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "cut labelled crops (LABEL_anything.png or labels.tsv) into a glyph bank usable as a font"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("samples", type=Path, help="folder of labelled crops")
    parser.add_argument("-o", "--output", type=Path, required=True, help="bank folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a bank already in the output folder")
    parser.add_argument("--keep-suspicious", action="store_true",
                        help="keep crops whose label looks wrong (a glyph resembling another character)")


def run(args: argparse.Namespace) -> int:
    from digitocr.files import check_output_folder, removed_on_failure
    from digitocr.synth.glyphs import BANK_FILE, build_bank
    from digitocr.synth.matching import without_suspicious

    check_output_folder(args.output, BANK_FILE, "a glyph bank", args.overwrite)
    bank = build_bank(args.samples)
    bank = bank if args.keep_suspicious else without_suspicious(bank)
    for rejection in bank.rejected:
        print(f"skipped {rejection.name}: {rejection.reason}", file=sys.stderr)
    with removed_on_failure(args.output):  # a full disk leaves no half a bank
        manifest = bank.save(args.output)
    style = bank.style
    counts = ", ".join(f"{char}x{len(instances)}" for char, instances in sorted(bank.glyphs.items()))
    polarity = "light on dark" if style.light_on_dark else "dark on light"
    print(f"{sum(len(v) for v in bank.glyphs.values())} glyphs from {len(bank.crops)} crops: {counts}")
    print(f"glyph height {style.glyph_height:.0f} px, stroke {style.stroke_width:.1f} px, {polarity}, "
          f"{'thresholded' if style.thresholded else f'edge width {style.edge_width:.1f} px'}")
    print(f"wrote {manifest}")
    return 0
