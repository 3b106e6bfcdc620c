"""The generator's command-line flags: TRDG's (same short and long names) plus readable long names and
our own options.

`digitocr generate` shows them, and `digitocr train --synth FLAGS` streams are parsed with them; runs
keep those strings, so `--resume` parses them again, which is why this parser lives beside the options
rather than inside the CLI package.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields

from digitocr.errors import UserError
from digitocr.synth.options import (
    DIGITS,
    LETTERS,
    SYMBOLS,
    GeneratorConfig,
    load_config_file,
    normalise_field,
    parse_range,
)


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """TRDG's flags (same short and long names) plus readable long names and our own options.
    Only options given end up in the namespace, so a --config file supplies the rest."""

    def group(title: str) -> Callable[..., object]:
        section = parser.add_argument_group(title)
        return lambda *flags, **kwargs: section.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)

    add = group("text")
    add("-rs", "--random_sequences", "--random-sequences", action="store_true",
        help="random character sequences (the default source; accepted for TRDG compatibility)")
    add("-num", "--include_numbers", "--digits", action="store_true", help="random sequences use digits")
    add("-let", "--include_letters", "--letters", action="store_true", help="random sequences use letters")
    add("-sym", "--include_symbols", "--symbols", action="store_true", help="random sequences use symbols")
    add("--charset", metavar="CHARS", help="characters of random labels (default 0123456789)")
    add("--label-length", dest="length", metavar="LOW-HIGH", help="characters per word (default 1-4)")
    add("-w", "--length", "--words", dest="words", metavar="N", help="words per label (default 1)")
    add("-r", "--random", "--random-word-count", dest="random_word_count", action="store_true",
        help="1 to N words instead of exactly N")
    add("--range", dest="number_range", metavar="LOW-HIGH", help="labels are whole numbers, e.g. 0-260")
    add("-i", "--input_file", "--strings-file", dest="strings_file", metavar="FILE",
        help="labels are the lines of this file, in order")

    add = group("fonts")
    add("-ft", "--font", dest="font", action="append", metavar="FONT",
        help="font file, installed family name, `default`, `heldout`, `general`, `evaluation`, bank:PATH, or "
             "procedural glyphs: seg7, seg14, dotmatrix, pixel, procedural (those four), dotfonts, squared (repeatable)")
    add("-fd", "--font_dir", "--font-dir", dest="font", action="append", metavar="DIR",
        help="a folder of fonts (repeatable)")

    add = group("geometry")
    add("-f", "--format", "--height", dest="height", metavar="PX", help="image height (default 32)")
    add("-m", "--margins", metavar="T,L,B,R", help="margins in pixels (default 5,5,5,5)")
    add("-fi", "--fit", action="store_true", help="crop the text tightly to its ink")
    add("-k", "--skew_angle", "--skew-angle", dest="skew", metavar="DEG",
        help="rotation in degrees (345 means -15) or a range")
    add("-rk", "--random_skew", "--random-skew", action="store_true", help="random rotation within +-DEG")
    add("-d", "--distorsion", "--distortion", dest="distortion", metavar="N",
        help="0 none, 1 sine, 2 cosine, 3 random")
    add("-do", "--distorsion_orientation", "--distortion-orientation", dest="distortion_orientation",
        metavar="N", help="0 vertical, 1 horizontal, 2 both")
    add("-cs", "--character_spacing", "--character-spacing", dest="spacing", metavar="PX",
        help="extra pixels between characters, negative allowed, or a range (-cs=-2,2)")
    add("-wd", "--width", metavar="PX", help="fixed image width (-1: fit the text)")
    add("-al", "--alignment", metavar="N", help="in a fixed width: 0 left, 1 center, 2 right, 3 random")
    add("--scale-jitter", dest="scale", metavar="LOW-HIGH",
        help="text height as a fraction of the room between margins, e.g. 0.8-1")
    add("--stretch", metavar="LOW-HIGH", help="horizontal stretch of the text, e.g. 0.85-1.15")
    add("--padding", metavar="LOW-HIGH", help="random extra space left and right, in image heights")
    add("--subpixel-offset", dest="subpixel_offset", metavar="PX", help="random shift up to PX pixels")

    add = group("appearance")
    add("-b", "--background", metavar="N", help="0 gaussian noise, 1 plain, 2 quasicrystal, 3 images")
    add("-id", "--image_dir", "--image-dir", dest="background_dir", metavar="DIR",
        help="pictures for background 3")
    add("--background-color", dest="background_color", metavar="COLOR[,COLOR]",
        help="background colour or range (noise and plain backgrounds)")
    add("-tc", "--text_color", "--text-color", dest="text_color", metavar="COLOR[,COLOR]",
        help="text colour or a range '#000000,#888888' (default #282828)")
    add("--light-on-dark", dest="light_on_dark", nargs="?", const="1", metavar="P",
        help="probability of light text on a dark background (default when given: 1)")
    add("-bl", "--blur", metavar="R", help="gaussian blur radius or a range")
    add("-rbl", "--random_blur", "--random-blur", action="store_true", help="random blur within 0-R")
    add("--jpeg-quality", dest="jpeg_quality", metavar="LOW-HIGH", help="JPEG degradation, e.g. 30-90")
    add("--invert", nargs="?", const="1", metavar="P", help="probability of inverting the finished image")
    add("--threshold", metavar="T|LOW-HIGH|otsu", help="two-valued image: brighter than T becomes white")
    add("--effects", metavar="NAME=P,...|all", help="screen effects with their probabilities: slant, glow, "
        "colors, gradient, texture, scanlines, subpixel, motion, downscale (e.g. glow=0.3,scanlines=0.2)")

    add = group("output format")
    add("-im", "--image_mode", "--image-mode", dest="image_mode", metavar="MODE", help="L or RGB")
    add("-e", "--extension", metavar="EXT", help="jpg (default), png or bmp")
    add("-na", "--name_format", "--name-format", dest="name_format", metavar="N",
        help="0 LABEL_INDEX, 1 INDEX_LABEL, 2 INDEX")
    add("--seed", metavar="N", help="run seed: same options and seed give byte-identical files")
    add("--config", metavar="FILE", help="generator options from a JSON or TOML file; flags override it")


def config_from_arguments(namespace: argparse.Namespace) -> GeneratorConfig:
    """The GeneratorConfig for parsed `add_generator_arguments` options (a --config file underneath)."""
    given = vars(namespace)
    mapping = load_config_file(given["config"]) if "config" in given else {}
    mapping.update({field.name: given[field.name] for field in fields(GeneratorConfig) if field.name in given})
    if "font" in given:
        mapping["fonts"] = given["font"]
    pools = [pool for flag, pool in (("include_letters", LETTERS), ("include_numbers", DIGITS),
                                     ("include_symbols", SYMBOLS)) if given.get(flag)]
    if pools and "charset" not in given:
        mapping["charset"] = "".join(pools)
    if given.get("random_skew"):
        angle = max(abs(end) for end in normalise_field("skew", mapping.get("skew", 0)))
        mapping["skew"] = (-angle, angle)
    if given.get("random_blur"):
        mapping["blur"] = (0.0, parse_range(mapping.get("blur", 0), "blur")[1])
    return GeneratorConfig.from_mapping(mapping)


def parse_generator_args(argv: list[str]) -> GeneratorConfig:
    """A GeneratorConfig from TRDG-style flags, e.g. `-rs -num -k 5 -rk` (as `digitocr generate` takes)."""
    parser = argparse.ArgumentParser(prog="generator options", add_help=False, exit_on_error=False)
    add_generator_arguments(parser)
    try:
        namespace, unknown = parser.parse_known_args(argv)
    except argparse.ArgumentError as error:
        raise UserError(f"generator options: {error}") from None
    if unknown:
        raise UserError(f"unknown generator option(s): {' '.join(unknown)}")
    return config_from_arguments(namespace)
