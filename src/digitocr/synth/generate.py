"""The synthetic text-image generator: its options (TRDG's and ours), the sampler, and dataset writing.

`TextImageGenerator.sample(rng)` draws one (image, label) in-process, fast enough for a trainer to
stream from; `write_dataset` fans indices out to worker processes. Each sample's randomness comes from
`default_rng([seed, index])`, so a seeded run writes the same bytes whatever the worker count.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing
import multiprocessing.pool
import re
import signal
import string
import tempfile
import threading
import tomllib
import typing
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitocr.errors import UserError
from digitocr.files import write_atomically
from digitocr.images import encode_image
from digitocr.labels import LABELS_FILE, safe_label, write_labels_tsv
from digitocr.mapping import to_mapping
from digitocr.synth.augment import binarize, gaussian_blur, jpeg_degrade, to_uint8
from digitocr.synth.effects import parse_effects
from digitocr.synth.fonts import GlyphSource, resolve_fonts
from digitocr.synth.render import (
    LUMA,
    NOISE_MEAN,
    BackgroundImages,
    ColorRange,
    Layout,
    composite,
    crop_to_ink,
    distort,
    gaussian_noise,
    parse_color,
    quasicrystal,
    text_extent,
    warp_into,
)

DIGITS = string.digits
LETTERS = string.ascii_letters
SYMBOLS = "!\"#$%&'()*+,-./:;?@[\\]^_`{|}~"  # TRDG's `-sym` pool
# Named choices; a choice's position is its TRDG number (`-d 3` is "random", `-b 1` is "plain").
DISTORTIONS = ("none", "sine", "cosine", "random")
DISTORTION_ORIENTATIONS = ("vertical", "horizontal", "both")
ALIGNMENTS = ("left", "center", "right", "random")
BACKGROUNDS = ("noise", "plain", "quasicrystal", "image")
IMAGE_MODES = ("L", "RGB")
EXTENSIONS = ("jpg", "jpeg", "png", "bmp")
NAME_FORMATS = ("{label}_{index}", "{index}_{label}", "{index}")  # TRDG's `-na 0/1/2`
_CHOICES = {"distortion": DISTORTIONS, "distortion_orientation": DISTORTION_ORIENTATIONS,
            "alignment": ALIGNMENTS, "background": BACKGROUNDS}
_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:,|:|\.\.|-)\s*({_NUMBER})\s*$")


def parse_range(value: Any, name: str, integer: bool = False) -> tuple[Any, Any]:
    """(low, high) from a number, a pair, or a string 'LOW-HIGH' / 'LOW,HIGH' / 'LOW:HIGH'."""
    cast = int if integer else float
    single = (isinstance(value, (int, float)) and not isinstance(value, bool)
              or isinstance(value, str) and re.fullmatch(rf"\s*{_NUMBER}\s*", value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        ends = list(value)
    elif single:
        ends = [value, value]
    elif isinstance(value, str) and _RANGE.match(value):
        ends = list(_RANGE.match(value).groups())
    else:
        raise UserError(f"{name}: expected a number or a range LOW-HIGH, got {value!r}")
    try:
        numbers = [float(end) for end in ends]
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected a number or a range LOW-HIGH, got {value!r}") from None
    if integer and any(not number.is_integer() for number in numbers):
        raise UserError(f"{name}: expected whole numbers, got {value!r}")
    return cast(numbers[0]), cast(numbers[1])


def normalise_angle(angle: float) -> float:
    """An angle in (-180, 180]: TRDG's `-k 345` means -15 degrees."""
    return (angle + 180.0) % 360.0 - 180.0


def _color_pair(value: Any, name: str) -> tuple[str, str]:
    ends = list(value) if isinstance(value, (list, tuple)) else str(value).split(",")
    if len(ends) == 1:
        ends = ends * 2
    if len(ends) != 2:
        raise UserError(f"{name}: expected a colour or two colours 'A,B', got {value!r}")
    for end in ends:
        parse_color(str(end))
    return str(ends[0]).strip(), str(ends[1]).strip()


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text.isdigit() and int(text) < len(choices):
        return choices[int(text)]
    if text in choices:
        return text
    numbered = ", ".join(f"{i}={choice}" for i, choice in enumerate(choices))
    raise UserError(f"{name}: expected one of {numbered}, got {value!r}")


@dataclass(frozen=True)
class GeneratorConfig:
    """Every generation option. Ranges are (low, high) drawn uniformly per image; probabilities in [0, 1]."""

    charset: str = DIGITS  # characters of random labels
    length: tuple[int, int] = (1, 4)  # characters per random word
    words: int = 1  # words per label, joined by spaces (TRDG's -w)
    random_word_count: bool = False  # 1..words words instead of exactly `words` (TRDG's -r)
    number_range: tuple[int, int] | None = None  # labels are whole numbers in this range
    strings_file: str | None = None  # labels are this file's lines, in order
    fonts: tuple[str, ...] = ()  # font specs (see resolve_fonts); empty means the default set
    height: int = 32  # image height in pixels (TRDG's -f "format")
    margins: tuple[int, int, int, int] = (5, 5, 5, 5)  # top, left, bottom, right
    fit: bool = False  # crop the text tightly to its ink (TRDG's -fi)
    skew: tuple[float, float] = (0.0, 0.0)  # rotation in degrees, counter-clockwise
    blur: tuple[float, float] = (0.0, 0.0)  # gaussian blur radius
    distortion: str = "none"
    distortion_orientation: str = "vertical"
    spacing: tuple[float, float] = (0.0, 0.0)  # extra pixels between characters (negative allowed)
    width: int | None = None  # fixed image width; the text shrinks to fit if needed
    alignment: str = "center"  # text position within a fixed width
    background: str = "noise"
    background_dir: str | None = None  # pictures for background "image"
    background_color: tuple[str, str] | None = None  # None: TRDG's gray 235 for noise, white for plain
    text_color: tuple[str, str] = ("#282828", "#282828")
    light_on_dark: float = 0.0  # probability of drawing with inverted colours (before blur and JPEG)
    invert: float = 0.0  # probability of inverting the finished image (a refinement step)
    threshold: tuple[int, int] | str | None = None  # fixed (range) threshold or "otsu": two-valued output
    jpeg_quality: tuple[int, int] | None = None  # JPEG round trip at a quality in this range
    scale: tuple[float, float] = (1.0, 1.0)  # text height as a fraction of the room between the margins
    stretch: tuple[float, float] = (1.0, 1.0)  # horizontal stretch of the text
    padding: tuple[float, float] = (0.0, 0.0)  # extra space left and right, in image heights, each drawn
    subpixel_offset: float = 0.0  # the text moves by up to this many pixels along each axis
    effects: str = ""  # screen effects and their probabilities, e.g. "glow=0.3,scanlines=0.2" (synth/effects.py)
    image_mode: str = "RGB"
    extension: str = "jpg"
    name_format: int = 0  # 0: LABEL_INDEX.EXT, 1: INDEX_LABEL.EXT, 2: INDEX.EXT
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (len(self.charset) > 0, "the charset is empty"),
            (1 <= self.length[0] <= self.length[1],
             f"bad label length range {self.length[0]}-{self.length[1]}: need 1 <= low <= high"),
            (self.words >= 1, f"words per label must be at least 1, got {self.words}"),
            (self.number_range is None or 0 <= self.number_range[0] <= self.number_range[1],
             f"bad number range {self.number_range}: need 0 <= low <= high"),
            (self.height >= 8, f"image height must be at least 8 pixels, got {self.height}"),
            (min(self.margins) >= 0 and self.height - self.margins[0] - self.margins[2] >= 4,
             f"margins {self.margins} leave no room for text in a {self.height}-pixel-high image"),
            (min(self.blur) >= 0 and self.blur[0] <= self.blur[1],
             f"blur must not be negative and low <= high, got {self.blur}"),
            (self.width is None or self.width > self.margins[1] + self.margins[3] + 2,
             f"width {self.width} leaves no room for text between margins {self.margins}"),
            (self.skew[0] <= self.skew[1] and self.spacing[0] <= self.spacing[1],
             "ranges need low <= high"),
            (0 <= self.light_on_dark <= 1 and 0 <= self.invert <= 1,
             "light-on-dark and invert are probabilities between 0 and 1"),
            (self.threshold in (None, "otsu") or 0 <= self.threshold[0] <= self.threshold[1] <= 255,
             f"threshold must be 'otsu' or within 0-255, got {self.threshold}"),
            (self.jpeg_quality is None or 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100,
             f"JPEG quality must be within 1-100, got {self.jpeg_quality}"),
            (0 < self.scale[0] <= self.scale[1] <= 2, f"scale jitter must be within (0, 2], got {self.scale}"),
            (0 < self.stretch[0] <= self.stretch[1], f"stretch must be positive, got {self.stretch}"),
            (0 <= self.padding[0] <= self.padding[1], f"padding must not be negative, got {self.padding}"),
            (self.subpixel_offset >= 0, f"sub-pixel offset must not be negative, got {self.subpixel_offset}"),
            (self.image_mode in IMAGE_MODES, f"image mode must be one of {', '.join(IMAGE_MODES)}"),
            (self.extension in EXTENSIONS, f"extension must be one of {', '.join(EXTENSIONS)}"),
            (0 <= self.name_format < len(NAME_FORMATS), "name format must be 0, 1 or 2"),
            (self.background != "image" or self.background_dir is not None,
             "background 'image' needs a folder of pictures (-id/--image-dir)"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        parse_effects(self.effects)
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise UserError(f"{name} must be one of {', '.join(choices)}")

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any]) -> GeneratorConfig:
        """A config from plain values (a JSON/TOML file, CLI strings); ranges may be 'LOW-HIGH' strings."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise UserError(f"unknown generator option(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in mapping.items():
            values[name] = None if value is None else _normalise_field(name, value)
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON-ready values; `from_mapping` of the result gives back an equal config."""
        return typing.cast(dict[str, Any], to_mapping(self))


def _normalise_field(name: str, value: Any) -> Any:
    integer_ranges = {"length", "number_range", "jpeg_quality"}
    float_ranges = {"skew", "blur", "spacing", "scale", "stretch", "padding"}
    if name in integer_ranges or name in float_ranges:
        low, high = parse_range(value, name.replace("_", " "), integer=name in integer_ranges)
        if name == "skew":
            low, high = sorted((normalise_angle(low), normalise_angle(high)))
        return low, high
    if name == "threshold":
        if str(value).strip().lower() == "otsu":
            return "otsu"
        return parse_range(value, "threshold", integer=True)
    if name in ("text_color", "background_color"):
        return _color_pair(value, name.replace("_", " "))
    if name in _CHOICES:
        return _choice(value, name.replace("_", " "), _CHOICES[name])
    if name == "margins":
        parts = [value] if isinstance(value, (int, float)) else (
            list(value) if isinstance(value, (list, tuple)) else str(value).split(","))
        try:
            margins = tuple(int(str(part).strip()) for part in parts)
        except ValueError:
            raise UserError(f"margins: expected N or TOP,LEFT,BOTTOM,RIGHT, got {value!r}") from None
        if len(margins) not in (1, 4):
            raise UserError(f"margins: expected N or TOP,LEFT,BOTTOM,RIGHT, got {value!r}")
        return margins * 4 if len(margins) == 1 else margins
    if name == "fonts":
        return (value,) if isinstance(value, str) else tuple(str(spec) for spec in value)
    if name == "effects" and isinstance(value, dict):
        return ",".join(f"{effect}={probability}" for effect, probability in value.items())
    if name == "width":
        width = _number(value, name, int)
        return None if width == -1 else width  # TRDG's -1: as wide as the text
    if name in ("words", "height", "name_format", "seed"):
        return _number(value, name.replace("_", " "), int)
    if name in ("light_on_dark", "invert", "subpixel_offset"):
        return _number(value, name.replace("_", " "), float)
    if name in ("fit", "random_word_count"):
        return bool(value)
    if name == "charset":
        return "".join(dict.fromkeys(str(value)))  # drop repeats, keep order
    if name in ("image_mode", "extension"):
        return str(value).upper() if name == "image_mode" else str(value).lower().lstrip(".")
    return str(value)


def _number(value: Any, name: str, cast: type) -> Any:
    try:
        number = float(value)
        if cast is int and not number.is_integer():
            raise ValueError
        return cast(number)
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected a {'whole ' if cast is int else ''}number, got {value!r}") from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Generator options from a JSON or TOML file (keys are GeneratorConfig field names)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        mapping = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except OSError as error:
        raise UserError(f"cannot read config file {path}: {error.strerror or error}") from None
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise UserError(f"config file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {error}") from None
    if not isinstance(mapping, dict):
        raise UserError(f"config file {path} must hold a table of options")
    return mapping


# ---------------------------------------------------------------- command-line options (TRDG-compatible)

def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """TRDG's flags (same short and long names) plus readable long names and our own options.
    Only options given end up in the namespace, so a --config file supplies the rest."""

    def group(title: str) -> Callable[..., None]:
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
        help="font file, installed family name, `default`, `heldout` or bank:PATH (repeatable)")
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
    add("--effects", metavar="NAME=P,...|all", help="screen effects with their probabilities: glow, colors, "
        "gradient, texture, scanlines, subpixel, motion, downscale (e.g. glow=0.3,scanlines=0.2)")

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
        angle = max(abs(end) for end in _normalise_field("skew", mapping.get("skew", 0)))
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


# ---------------------------------------------------------------- the sampler

def _read_strings(path: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserError(f"cannot read strings file {path}: {error.strerror or error}") from None
    strings = [line.strip() for line in lines if line.strip()]
    if not strings:
        raise UserError(f"strings file {path} has no non-empty lines")
    return strings


def _warn_through_warnings(message: str) -> None:
    warnings.warn(message, stacklevel=3)


class TextImageGenerator:
    """Draws (image, label) samples for a GeneratorConfig; `fonts` overrides `config.fonts`."""

    def __init__(self, config: GeneratorConfig, fonts: Sequence[GlyphSource] | None = None,
                 warn: Callable[[str], None] = _warn_through_warnings) -> None:
        self.config = config
        self.seed = config.seed if config.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self._strings = _read_strings(config.strings_file) if config.strings_file else None
        chars = self.label_characters()
        self._fonts = list(fonts) if fonts is not None else resolve_fonts(list(config.fonts), chars, warn)
        if not self._fonts:
            raise UserError("no fonts to draw with")
        self._backgrounds = BackgroundImages(config.background_dir) if config.background == "image" else None
        self._text_color = ColorRange(config.text_color)
        self._background_color = ColorRange(config.background_color) if config.background_color else None
        self._effects = parse_effects(config.effects)
        sample_text = "".join(sorted(set(chars) - set(" \t"))) or "0"
        # With -fi the ink fills the box: render at line-box height / ink height so it is not upscaled.
        self._line_per_ink = [
            self._line_per_ink_height(source, sample_text, config.height) if config.fit else 1.0
            for source in self._fonts
        ]

    @property
    def fonts(self) -> list[GlyphSource]:
        """The glyph sources samples are drawn with."""
        return list(self._fonts)

    def label_characters(self) -> str:
        """Every character a label can contain (what the fonts must be able to draw)."""
        config = self.config
        if self._strings is not None:
            return "".join(sorted(set("".join(self._strings))))
        if config.number_range is not None:
            return DIGITS
        return config.charset + (" " if config.words > 1 else "")

    @staticmethod
    def _line_per_ink_height(source: GlyphSource, text: str, height: int) -> float:
        mask = source.render(text, height, 0.0, np.random.default_rng(0))
        ink_rows = int(np.count_nonzero(mask.any(axis=1)))
        return mask.shape[0] / ink_rows if ink_rows else 1.0

    def sample(self, rng: np.random.Generator) -> tuple[Image.Image, str]:
        """One random (image, label)."""
        pixels, label = self.sample_array(rng)
        return Image.fromarray(pixels), label

    def sample_at(self, index: int) -> tuple[Image.Image, str]:
        """The (image, label) a dataset written with this config's seed has at `index`."""
        pixels, label = self.sample_array(self.rng_at(index), index)
        return Image.fromarray(pixels), label

    def __iter__(self) -> Iterator[tuple[Image.Image, str]]:
        """sample_at(0), sample_at(1), ... without end."""
        return (self.sample_at(index) for index in itertools.count())

    def rng_at(self, index: int) -> np.random.Generator:
        """The random stream of sample `index`: from the run seed and the index alone."""
        return np.random.default_rng([self.seed, index])

    def sample_array(self, rng: np.random.Generator, index: int | None = None) -> tuple[np.ndarray, str]:
        """One sample as a uint8 array, (H, W) for mode L or (H, W, 3) RGB, and its label."""
        config = self.config
        label = self._label(rng, index)
        font_index = int(rng.integers(len(self._fonts)))
        top, _, bottom, _ = config.margins
        box_height = (config.height - top - bottom) * rng.uniform(*config.scale)
        angle = rng.uniform(*config.skew)
        stretch = rng.uniform(*config.stretch)
        spacing = rng.uniform(*config.spacing)
        render_height = max(8, round(box_height * self._line_per_ink[font_index]))
        mask = self._fonts[font_index].render(label, render_height, spacing, rng)
        mask = distort(mask, config.distortion, config.distortion_orientation in ("vertical", "both"),
                       config.distortion_orientation in ("horizontal", "both"), rng)
        if config.fit:
            mask = crop_to_ink(mask)
        layout = self._layout(mask.shape, box_height, angle, stretch, rng)
        coverage = warp_into(mask, layout, angle, stretch)
        if self._effects.active:
            channels = 1 if config.image_mode == "L" else 3
            return self._finish(self._effects.apply(coverage, rng, channels, self._paint), rng), label
        return self._finish(self._paint(coverage, rng), rng), label

    def _label(self, rng: np.random.Generator, index: int | None) -> str:
        config = self.config
        if self._strings is not None:
            position = index if index is not None else int(rng.integers(len(self._strings)))
            return self._strings[position % len(self._strings)]
        if config.number_range is not None:
            return str(int(rng.integers(config.number_range[0], config.number_range[1] + 1)))
        words = int(rng.integers(1, config.words + 1)) if config.random_word_count else config.words
        low, high = config.length
        charset = config.charset
        return " ".join("".join([charset[i] for i in rng.integers(len(charset), size=rng.integers(low, high + 1))
                                 .tolist()]) for _ in range(words))

    def _layout(self, mask_shape: tuple[int, int], box_height: float, angle: float, stretch: float,
                rng: np.random.Generator) -> Layout:
        config = self.config
        top, left, bottom, right = config.margins
        extent_width, extent_height = text_extent(mask_shape[1] * stretch, mask_shape[0], angle)
        scale = box_height / extent_height
        text_width, text_height = extent_width * scale, box_height
        pad_left, pad_right = rng.uniform(*config.padding, size=2) * config.height
        if config.width is not None:
            canvas_width = config.width
            room = canvas_width - left - right
            if text_width > room:  # shrink rather than cut off: a clipped digit would make a wrong label
                shrink = room / text_width
                scale, text_width, text_height = scale * shrink, room, text_height * shrink
            x = {"left": left, "center": (canvas_width - text_width) / 2,
                 "right": canvas_width - right - text_width,
                 "random": left + rng.random() * (room - text_width)}[config.alignment]
        else:
            canvas_width = math.ceil(text_width + left + right + pad_left + pad_right)
            x = left + pad_left
        y = top + (config.height - top - bottom - text_height) * rng.random()
        if config.subpixel_offset:
            dx, dy = rng.uniform(-config.subpixel_offset, config.subpixel_offset, size=2)
            x, y = x + dx, y + dy
        return Layout(canvas_width, config.height, x, y, text_width, text_height, scale)

    def _paint(self, coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        channels = 1 if config.image_mode == "L" else 3
        height, width = coverage.shape
        ink = self._text_color.draw(rng, channels)
        if self._backgrounds is not None:
            picture = self._backgrounds.crop(height, width, rng)
            background = picture @ LUMA[:, None] if channels == 1 else picture
        elif config.background == "quasicrystal":
            background = quasicrystal(height, width, rng)[:, :, None]
        else:
            base = (self._background_color.draw(rng, channels) if self._background_color
                    else np.full(channels, NOISE_MEAN if config.background == "noise" else 255.0, np.float32))
            if config.background == "noise":
                background = gaussian_noise(height, width, base, rng)
            else:
                background = np.broadcast_to(base, (height, width, channels))
        if config.light_on_dark and rng.random() < config.light_on_dark:
            background, ink = 255.0 - background, 255.0 - ink
        return composite(background, coverage, ink)

    def _finish(self, picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        pixels = to_uint8(gaussian_blur(picture, rng.uniform(*config.blur)))
        if config.jpeg_quality is not None:
            pixels = jpeg_degrade(pixels, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
        if config.invert and rng.random() < config.invert:
            pixels = 255 - pixels
        if config.threshold == "otsu":
            pixels = binarize(pixels, None)
        elif config.threshold is not None:
            pixels = binarize(pixels, int(rng.integers(config.threshold[0], config.threshold[1] + 1)))
        return pixels


# ---------------------------------------------------------------- writing datasets

def file_name(label: str, index: int, config: GeneratorConfig) -> str:
    """`LABEL_INDEX.EXT` (or TRDG's other name formats); path separators in a label become '_'."""
    return NAME_FORMATS[config.name_format].format(label=safe_label(label), index=index) + f".{config.extension}"


def _prepare_output_dir(output_dir: str | Path) -> Path:
    output = Path(output_dir)
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as error:
        raise UserError(f"cannot write to output folder {output}: {error.strerror or error}") from None
    return output


Entry = tuple[int, str, str]  # index, file name, label
_CHUNK_SIZE = 32  # indices claimed at a time: small enough to balance, large enough to cost nothing


@dataclass
class _SharedWork:
    """Chunks of indices that the parent and the worker processes claim one at a time, with the count
    written so far and the stop flag Ctrl-C sets (process-shared values)."""

    count: int
    next_chunk: Any
    written: Any
    stop: Any

    def claim(self) -> range | None:
        with self.next_chunk.get_lock():
            start = self.next_chunk.value * _CHUNK_SIZE
            self.next_chunk.value += 1
        return None if start >= self.count or self.stop.is_set() else range(start, min(start + _CHUNK_SIZE, self.count))

    def write(self, generator: TextImageGenerator, output: Path) -> Iterator[list[Entry]]:
        """Write claimed chunks until none is left or a stop is asked for; yields each chunk's entries."""
        while (indices := self.claim()) is not None:
            entries = []
            for index in indices:
                if self.stop.is_set():
                    break
                pixels, label = generator.sample_array(generator.rng_at(index), index)
                name = file_name(label, index, generator.config)
                write_atomically(output / name, encode_image(pixels, generator.config.extension))
                entries.append((index, name, label))
            with self.written.get_lock():
                self.written.value += len(entries)
            yield entries


_worker_state: tuple[TextImageGenerator, Path, _SharedWork] | None = None


def _start_worker(config: GeneratorConfig, fonts: list[GlyphSource], output: Path, work: _SharedWork) -> None:
    global _worker_state
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent asks workers to stop through `work.stop`
    cv2.setNumThreads(1)
    _worker_state = (TextImageGenerator(config, fonts), output, work)


def _write_in_worker() -> list[Entry]:
    generator, output, work = _worker_state
    return [entry for entries in work.write(generator, output) for entry in entries]


def _worker_context(start_method: str) -> multiprocessing.context.BaseContext:
    """The multiprocessing context for helpers; spawn where the method is not available."""
    if start_method not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload([__name__])  # helpers fork from a server that imported us once
    return context


def _start_helpers(context: multiprocessing.context.BaseContext, helpers: int,
                   initargs: tuple) -> multiprocessing.pool.Pool:
    """A pool of helper processes. `write_dataset` starts them while OpenCV's worker threads are stopped:
    a process forked beside them inherits a thread pool whose threads do not exist, and its first blur can hang."""
    return context.Pool(helpers, initializer=_start_worker, initargs=initargs)


@contextlib.contextmanager
def _opencv_single_threaded() -> Iterator[None]:
    """OpenCV's threads only spin-wait on images this small (a third of a run's CPU went to sched_yield)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


@contextlib.contextmanager
def _interrupt_sets(stop: Any) -> Iterator[None]:
    """While active, Ctrl-C sets `stop` instead of raising, so every file in flight is finished."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def write_dataset(config: GeneratorConfig, output_dir: str | Path, count: int, workers: int = 1,
                  on_progress: Callable[[int, int], None] | None = None,
                  fonts: Sequence[GlyphSource] | None = None, start_method: str = "forkserver") -> Path:
    """Write `count` images named LABEL_INDEX.EXT and a `labels.tsv` manifest; returns the manifest path.

    `workers` processes write (this one and workers - 1 helpers, so no time is lost while they start).
    Helpers start from a fork server by default, safe whatever threads the caller runs (torch's, say);
    `start_method="fork"` starts them fastest, for callers that run no threads of their own (the CLI).
    On Ctrl-C the images being written are finished, the manifest lists exactly the files written,
    and KeyboardInterrupt is raised."""
    if count <= 0:
        raise UserError(f"count must be at least 1, got {count}")
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    output = _prepare_output_dir(output_dir)
    generator = TextImageGenerator(config, fonts)
    config = replace(config, seed=generator.seed)
    context = _worker_context(start_method)
    work = _SharedWork(count, context.Value("q", 0), context.Value("q", 0), context.Event())
    helpers = min(workers - 1, math.ceil(count / _CHUNK_SIZE) - 1)
    entries: list[Entry] = []
    with _interrupt_sets(work.stop), _opencv_single_threaded(), contextlib.ExitStack() as stack:
        pending = []
        if helpers > 0:
            pool = stack.enter_context(_start_helpers(context, helpers, (config, generator.fonts, output, work)))
            pending = [pool.apply_async(_write_in_worker) for _ in range(helpers)]
        for written in work.write(generator, output):
            entries += written
            if on_progress:
                on_progress(work.written.value, count)
        for result in pending:
            while not result.ready():
                result.wait(0.2)
                if on_progress:
                    on_progress(work.written.value, count)
            entries += result.get()
        if on_progress:
            on_progress(len(entries), count)
    manifest = output / LABELS_FILE
    write_labels_tsv(manifest, [(name, label) for _, name, label in sorted(entries)])
    if work.stop.is_set():
        raise KeyboardInterrupt
    return manifest


def contact_sheet(samples: Sequence[tuple[Image.Image, str]], columns: int = 8) -> Image.Image:
    """A grid of images, each captioned with its label, for eyeballing a dataset."""
    if not samples:
        raise UserError("no images for a contact sheet")
    font = ImageFont.load_default()
    caption_height, gap = 12, 4
    cell_width = max(image.width for image, _ in samples) + gap
    cell_height = max(image.height for image, _ in samples) + caption_height + gap
    rows = math.ceil(len(samples) / columns)
    sheet = Image.new("RGB", (min(columns, len(samples)) * cell_width + gap, rows * cell_height + gap), "white")
    draw = ImageDraw.Draw(sheet)
    for position, (image, label) in enumerate(samples):
        x = gap + (position % columns) * cell_width
        y = gap + (position // columns) * cell_height
        sheet.paste(image.convert("RGB"), (x, y))
        draw.text((x, y + image.height + 1), label, fill=(200, 0, 0), font=font)
    return sheet
