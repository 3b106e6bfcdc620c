"""Generator options: `GeneratorConfig` (every option, checked) and the parsing of plain values into it
(ranges as 'LOW-HIGH', colours, TRDG's numbered choices) from JSON/TOML files and command-line strings."""

from __future__ import annotations

import json
import re
import string
import tomllib
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from digitocr.errors import UserError
from digitocr.mapping import to_mapping
from digitocr.synth.effects import parse_effects
from digitocr.synth.render import parse_color

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
    elif isinstance(value, str) and (match := _RANGE.match(value)):
        ends = list(match.groups())
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
            (8 <= self.height <= 4096, f"image height must be within 8-4096 pixels, got {self.height}"),
            (self.width is None or self.width <= 16384, f"image width must be at most 16384 pixels, got {self.width}"),
            (min(self.margins) >= 0 and self.height - self.margins[0] - self.margins[2] >= 4,
             f"margins {self.margins} leave no room for text in a {self.height}-pixel-high image"),
            (min(self.blur) >= 0 and self.blur[0] <= self.blur[1],
             f"blur must not be negative and low <= high, got {self.blur}"),
            (self.width is None or self.width > self.margins[1] + self.margins[3] + 2,
             f"width {self.width} leaves no room for text between margins {self.margins}"),
            (self.skew[0] <= self.skew[1] and self.spacing[0] <= self.spacing[1],
             "ranges need low <= high"),
            (self.spacing[0] >= -self.height / 2,  # further, characters land over or past each other
             (f"character spacing below -{self.height / 2:g} (half the image height) would draw the characters "
              f"out of order, got {self.spacing[0]:g}")),
            (0 <= self.light_on_dark <= 1 and 0 <= self.invert <= 1,
             "light-on-dark and invert are probabilities between 0 and 1"),
            (not isinstance(self.threshold, tuple) and self.threshold in (None, "otsu")
             or isinstance(self.threshold, tuple) and 0 <= self.threshold[0] <= self.threshold[1] <= 255,
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
            (self.seed is None or self.seed >= 0, f"seed must not be negative, got {self.seed}"),
            (not (self.number_range is not None and self.strings_file is not None),
             "labels come from a number range or a strings file, not both (--range, -i)"),
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
            values[name] = None if value is None else normalise_field(name, value)
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON-ready values; `from_mapping` of the result gives back an equal config."""
        return typing.cast(dict[str, Any], to_mapping(self))


def normalise_field(name: str, value: Any) -> Any:
    integer_ranges = {"length", "number_range", "jpeg_quality"}
    float_ranges = {"skew", "blur", "spacing", "scale", "stretch", "padding"}
    if name in integer_ranges or name in float_ranges:
        low, high = parse_range(value, name.replace("_", " "), integer=name in integer_ranges)
        if name == "skew":
            if max(abs(low), abs(high)) > 360:  # a whole turn already reaches every angle: a slip of the keys
                raise UserError(f"skew angle must be within -360 to 360 degrees, got {value!r}")
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
