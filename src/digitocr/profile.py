"""Screen profiles (TOML): the named regions of one screen, each with its box, model, format and checks.

```toml
name = "ucdg"
size = [1280, 720]        # optional: the frame size that pixel boxes refer to
scale_boxes = false       # pixel boxes on a frame of another size: an error unless true
model = "runs/game/best"  # default model of the regions (relative paths: from the profile's folder)
[regions.speed]
ratios = ["81/1280", "220/720", "125/1280", "236/720"]   # or box = [x0, y0, x1, y1] in pixels
format = "int"
range = [0, 400]
min_confidence = 0.6
refine = { grayscale = true, invert = "auto", threshold = "otsu" }
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitocr.errors import UserError
from digitocr.formats import parse_format
from digitocr.images import ImageSource, open_image

INVERT_CHOICES = ("auto", "yes", "no")
MONOTONIC_CHOICES = ("increasing", "decreasing")


@dataclass(frozen=True)
class Refine:
    """The seed's hand refinement of a crop: grayscale, a threshold (a value or Otsu's), inversion so the
    digits come out dark on light, and an optional resize to a fixed height."""

    grayscale: bool = True
    invert: str = "no"  # "auto": invert when the background is dark
    threshold: int | str | None = None  # "otsu", 0..255 (brighter becomes white), or None
    resize_height: int | None = None

    def __post_init__(self) -> None:
        if self.invert not in INVERT_CHOICES:
            raise UserError(f"refine: invert is one of {', '.join(INVERT_CHOICES)}, got {self.invert!r}")
        threshold = self.threshold
        if not (threshold is None or threshold == "otsu"
                or (isinstance(threshold, int) and not isinstance(threshold, bool) and 0 <= threshold <= 255)):
            raise UserError(f"refine: threshold is 'otsu' or a whole number 0 to 255, got {threshold!r}")
        if self.resize_height is not None and not (isinstance(self.resize_height, int) and self.resize_height >= 8):
            raise UserError(f"refine: resize_height is a whole number of at least 8, got {self.resize_height!r}")

    @classmethod
    def from_mapping(cls, mapping: Any) -> Refine:
        if not isinstance(mapping, dict):
            raise UserError(f"refine is a table like {{ grayscale = true, invert = \"auto\" }}, got {mapping!r}")
        unknown = set(mapping) - {field.name for field in fields(cls)}
        if unknown:
            raise UserError(f"refine: unknown option(s) {', '.join(sorted(unknown))}")
        return cls(**mapping)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The refined uint8 crop (gray when grayscale or a threshold is asked for)."""
        pixels = np.ascontiguousarray(image)
        if pixels.ndim == 3 and (self.grayscale or self.threshold is not None):
            pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_RGB2GRAY)
        if self.threshold == "otsu":
            pixels = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
        elif self.threshold is not None:
            pixels = cv2.threshold(pixels, int(self.threshold), 255, cv2.THRESH_BINARY)[1]
        if self.invert == "yes" or (self.invert == "auto" and _background_is_dark(pixels)):
            pixels = cv2.bitwise_not(pixels)
        if self.resize_height is not None and pixels.shape[0] != self.resize_height:
            width = max(1, round(pixels.shape[1] * self.resize_height / pixels.shape[0]))
            shrink = pixels.shape[0] > self.resize_height
            pixels = cv2.resize(pixels, (width, self.resize_height),
                                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return pixels


def _background_is_dark(pixels: np.ndarray) -> bool:
    """The border is mostly background: dark when its mean is below the middle of the crop's range."""
    gray = pixels if pixels.ndim == 2 else pixels.mean(axis=2)
    border = np.concatenate((gray[0], gray[-1], gray[:, 0], gray[:, -1])).astype(np.float32)
    return float(border.mean()) < (float(gray.min()) + float(gray.max())) / 2


@dataclass(frozen=True)
class Region:
    """One named field of a screen: where it is, which model reads it, and what a plausible reading is."""

    name: str
    box: tuple[float, float, float, float]
    units: str = "pixels"  # or "ratios" of the frame's width and height
    model: str | None = None
    format: str | None = None
    value_range: tuple[float, float] | None = None
    min_confidence: float | None = None
    refine: Refine | None = None
    max_rate: float | None = None  # largest plausible change per second (watch)
    monotonic: str | None = None  # "increasing" | "decreasing" (watch)

    def pixel_box(self, width: int, height: int, profile: Profile) -> tuple[int, int, int, int]:
        """The region's box in pixels of a `width` x `height` frame (UserError when it does not fit)."""
        x0, y0, x1, y1 = self.box
        if self.units == "ratios":
            box = (round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height))
        elif profile.frame_size is not None and profile.frame_size != (width, height):
            if not profile.scale_boxes:
                raise UserError(f"{profile.where(self.name)}: the frame is {width}x{height} but the profile's pixel "
                                f"boxes are for {profile.frame_size[0]}x{profile.frame_size[1]} (set "
                                "scale_boxes = true to scale them, or use ratios)")
            sx, sy = width / profile.frame_size[0], height / profile.frame_size[1]
            box = (round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy))
        else:
            box = (round(x0), round(y0), round(x1), round(y1))
        if not (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height):
            raise UserError(f"{profile.where(self.name)}: box {list(box)} is not inside the {width}x{height} frame")
        return box


@dataclass(frozen=True)
class Profile:
    """A screen: its regions, the frame size pixel boxes refer to, and the default model."""

    path: Path | None
    name: str
    frame_size: tuple[int, int] | None
    scale_boxes: bool
    model: str | None
    regions: dict[str, Region]

    def where(self, region: str | None = None) -> str:
        """'<file>: region 'speed'' — the prefix of every message about this profile."""
        place = str(self.path) if self.path is not None else f"profile {self.name!r}"
        return f"{place}: region {region!r}" if region is not None else place

    def with_model(self, model: str | Path) -> Profile:
        """The same screen with every region read by `model`: a command's --model overrides the profile's."""
        return replace(self, model=str(model),
                       regions={name: replace(region, model=None) for name, region in self.regions.items()})


_PROFILE_KEYS = {"name", "size", "scale_boxes", "model", "regions"}
_REGION_KEYS = {"ratios", "box", "model", "format", "range", "min_confidence", "refine", "max_rate", "monotonic"}


def load_profile(path: Path | str) -> Profile:
    """Read and check a TOML profile; every problem is a UserError naming the file and the region."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read profile {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid TOML: {error}") from None
    return profile_from_mapping(document, path)


def profile_from_mapping(document: dict[str, Any], path: Path | None = None) -> Profile:
    """A Profile from a parsed TOML document; relative model paths are taken from `path`'s folder."""
    place = str(path) if path is not None else "profile"
    if unknown := set(document) - _PROFILE_KEYS:
        raise UserError(f"{place}: unknown key(s) {', '.join(sorted(unknown))}")
    size = document.get("size")
    frame_size = None
    if size is not None:
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size)):
            raise UserError(f"{place}: size is [width, height] in whole pixels, got {size!r}")
        frame_size = (int(size[0]), int(size[1]))
    scale_boxes = document.get("scale_boxes", False)
    if not isinstance(scale_boxes, bool):
        raise UserError(f"{place}: scale_boxes is true or false, got {scale_boxes!r}")
    base = path.parent if path is not None else Path.cwd()
    model = _model_path(document.get("model"), base, place)
    regions_table = document.get("regions")
    if not isinstance(regions_table, dict) or not regions_table:
        raise UserError(f"{place}: no regions (add a [regions.NAME] table with a box or ratios)")
    profile = Profile(path, str(document.get("name", path.stem if path else "profile")), frame_size, scale_boxes,
                      model, {})
    for name, table in regions_table.items():
        try:
            profile.regions[name] = _region(name, table, base, frame_size)
        except UserError as error:
            raise UserError(f"{profile.where(name)}: {error}") from None
    return profile


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _model_path(value: Any, base: Path, place: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise UserError(f"{place}: model is a model folder's path, got {value!r}")
    model = Path(value).expanduser()
    return str(model if model.is_absolute() else base / model)


def _number(value: Any, what: str) -> float:
    """A TOML number, or a fraction/decimal written as a string ("81/1280")."""
    if isinstance(value, bool):
        raise UserError(f"{what} must be a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            pass
    raise UserError(f"{what} must be a number or a fraction like \"81/1280\", got {value!r}")


def _region(name: str, table: Any, base: Path, frame_size: tuple[int, int] | None) -> Region:
    if not isinstance(table, dict):
        raise UserError("must be a table with a box or ratios")
    if unknown := set(table) - _REGION_KEYS:
        raise UserError(f"unknown key(s) {', '.join(sorted(unknown))}")
    if ("box" in table) == ("ratios" in table):
        raise UserError("give either box = [x0, y0, x1, y1] in pixels or ratios = [left, top, right, bottom]")
    units = "ratios" if "ratios" in table else "pixels"
    values = table[units if units == "ratios" else "box"]
    if not isinstance(values, list) or len(values) != 4:
        raise UserError(f"{units if units == 'ratios' else 'box'} needs four numbers, got {values!r}")
    x0, y0, x1, y1 = (_number(v, "a box corner") for v in values)
    if not (x0 < x1 and y0 < y1):
        raise UserError(f"the box {values!r} is empty: need left < right and top < bottom")
    if units == "ratios" and not all(0.0 <= v <= 1.0 for v in (x0, y0, x1, y1)):
        raise UserError(f"ratios are fractions of the frame between 0 and 1, got {values!r}")
    if units == "pixels" and frame_size is not None and not (0 <= x0 and 0 <= y0 and x1 <= frame_size[0]
                                                             and y1 <= frame_size[1]):
        raise UserError(f"box {values!r} is not inside the {frame_size[0]}x{frame_size[1]} frame")
    fmt = table.get("format")
    if fmt is not None:
        if not isinstance(fmt, str):
            raise UserError(f"format is a string like \"int\" or \"time:m:ss.fff\", got {fmt!r}")
        parse_format(fmt)
    value_range = table.get("range")
    if value_range is not None:
        if not (isinstance(value_range, list) and len(value_range) == 2):
            raise UserError(f"range is [low, high], got {value_range!r}")
        low, high = (_number(v, "a range end") for v in value_range)
        if low > high:
            raise UserError(f"range {value_range!r} has low > high")
        value_range = (low, high)
    min_confidence = table.get("min_confidence")
    if min_confidence is not None:
        min_confidence = _number(min_confidence, "min_confidence")
        if not 0.0 <= min_confidence <= 1.0:
            raise UserError(f"min_confidence is between 0 and 1, got {min_confidence}")
    max_rate = table.get("max_rate")
    if max_rate is not None:
        max_rate = _number(max_rate, "max_rate")
        if max_rate <= 0:
            raise UserError(f"max_rate is a positive change per second, got {max_rate}")
    monotonic = table.get("monotonic")
    if monotonic is not None and monotonic not in MONOTONIC_CHOICES:
        raise UserError(f"monotonic is one of {', '.join(MONOTONIC_CHOICES)}, got {monotonic!r}")
    refine = Refine.from_mapping(table["refine"]) if "refine" in table else None
    return Region(name, (x0, y0, x1, y1), units, _model_path(table.get("model"), base, "model"), fmt, value_range,
                  min_confidence, refine, max_rate, monotonic)


def crop_regions(frame: ImageSource, profile: Profile) -> dict[str, np.ndarray]:
    """Each region's crop of `frame`, refined as the profile says: ready for the Reader.

    An array frame is cut before it is converted (`digitocr.images.open_image`: BGRA screen grabs, floats), so
    a 4K grab costs the few pixels of its regions, not a copy of the whole frame."""
    pixels = frame if isinstance(frame, np.ndarray) and frame.ndim in (2, 3) else open_image(frame)
    height, width = pixels.shape[:2]
    crops = {}
    for name, region in profile.regions.items():
        x0, y0, x1, y1 = region.pixel_box(width, height, profile)
        crop = open_image(pixels[y0:y1, x0:x1], name=f"{profile.where(name)}: its crop")
        crops[name] = region.refine.apply(crop) if region.refine is not None else crop
    return crops
