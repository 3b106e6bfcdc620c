"""`digitocr fonts`: the fonts the generator can use, and a picture of every font's digits."""

from __future__ import annotations

import argparse

from digitocr.cli.options import non_empty

HELP = "list the default, held-out and installed fonts; -o writes a picture of their digits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="*", metavar="FONT",
                        help="also check these fonts (file, folder, family name, bank:PATH)")
    parser.add_argument("-o", "--output", metavar="PNG", help="write a picture of every font's digits")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing -o picture")
    parser.add_argument("--charset", type=non_empty, default="0123456789", help="characters to check and draw")


def run(args: argparse.Namespace) -> int:
    from digitocr.files import check_output
    from digitocr.images import save_image
    from digitocr.synth.fonts import (
        DEFAULT_FAMILIES,
        HELDOUT_FAMILIES,
        FontFile,
        installed_families,
        resolve_fonts,
        specimen,
    )
    from digitocr.synth.glyph_source import GlyphSource

    if args.output:
        check_output(args.output, args.overwrite)

    families = installed_families()
    sections = {
        "default (training set)": [slug for slug in DEFAULT_FAMILIES if slug in families],
        "held out (evaluation)": [slug for slug in HELDOUT_FAMILIES if slug in families],
        "other installed": [slug for slug in families if slug not in DEFAULT_FAMILIES + HELDOUT_FAMILIES],
    }
    shown: list[GlyphSource] = []
    for title, slugs in sections.items():
        print(f"{title}: {len(slugs)}")
        for slug in slugs:
            font = FontFile(families[slug].primary, name=slug)
            missing = font.missing(args.charset)
            note = f"  (lacks {' '.join(sorted(missing))})" if missing else ""
            print(f"  {slug:<18} {families[slug].family:<20} {font.path.name}{note}")
            if not missing:
                shown.append(font)
    if args.specs:
        print("given:")
        for source in resolve_fonts(args.specs, args.charset, lambda message: print(f"  {message}")):
            print(f"  {source.name}")
            if source not in shown:
                shown.append(source)
    if args.output:
        output = save_image(specimen(shown, args.charset), args.output)
        print(f"picture of {len(shown)} fonts: {output}")
    return 0
