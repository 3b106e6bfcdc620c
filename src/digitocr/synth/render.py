"""Turning a text mask into a picture: distortion, placement (scale, skew, padding), backgrounds, ink.

Placement is one affine warp from the rendered mask straight into the final canvas (scale, rotation,
stretch and sub-pixel offset together), which keeps a sample to a fraction of a millisecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import ImageColor

from digitocr.errors import UserError
from digitocr.images import open_image

BACKGROUND_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
NOISE_MEAN, NOISE_SIGMA = 235.0, 10.0  # TRDG's gaussian-noise background
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601-2, as PIL's convert("L")


def parse_color(text: str) -> tuple[int, int, int]:
    """An RGB colour from '#rrggbb', '#rgb', a CSS name, or a gray level 0-255."""
    text = text.strip()
    if text.isdigit() and int(text) <= 255:
        return (int(text),) * 3
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError as error:
        raise UserError(f"not a colour: {text!r} (use #rrggbb, a colour name or a gray level)") from error
    return rgb[:3]


class ColorRange:
    """Colours drawn channel by channel between two ends (TRDG's `-tc A,B`), parsed once."""

    def __init__(self, ends: tuple[str, str]) -> None:
        self.low, self.high = (np.array(parse_color(end), np.float32) for end in ends)
        self._span = self.high - self.low + 1

    def draw(self, rng: np.random.Generator, channels: int) -> np.ndarray:
        """A colour as 3 channel values, or its luma as 1 (as PIL's convert("L"))."""
        rgb = np.floor(self.low + rng.random(3, dtype=np.float32) * self._span)
        np.minimum(rgb, 255, out=rgb)  # float rounding can reach high + 1; nothing falls below 0
        return (rgb @ LUMA).reshape(1) if channels == 1 else rgb


def distort(mask: np.ndarray, kind: str, vertical: bool, horizontal: bool,
            rng: np.random.Generator) -> np.ndarray:
    """TRDG's distortions: shift every column (vertical) and/or row (horizontal) by a sine, cosine or
    random offset of at most sqrt(height) pixels."""
    if kind == "none" or not (vertical or horizontal):
        return mask
    height, width = mask.shape
    max_offset = int(height ** 0.5)

    def offsets(count: int) -> np.ndarray:
        if kind == "random":
            return rng.integers(0, max_offset + 1, count)
        wave = np.sin if kind == "sine" else np.cos
        return (wave(np.radians(np.arange(count))) * max_offset).astype(np.int64)

    # Each move is one scatter through flat indices into a zeroed, grown canvas: a pixel's flat index
    # is its row's start plus its column, so a column's (row's) offset just adds to its indices.
    if vertical:  # column i moves down by offsets[i]; then rows move right, as TRDG does
        out = np.zeros((height + 2 * max_offset, width), np.uint8)
        starts = (max_offset + offsets(width)) * width + np.arange(width)
        out.ravel()[np.arange(0, height * width, width)[:, None] + starts] = mask
        mask, height = out, out.shape[0]
    if horizontal:
        grown = width + 2 * max_offset
        out = np.zeros((height, grown), np.uint8)
        starts = np.arange(0, height * grown, grown) + max_offset + offsets(height)
        out.ravel()[starts[:, None] + np.arange(width)] = mask
        mask = out
    return mask


def crop_to_ink(mask: np.ndarray) -> np.ndarray:
    """The mask cropped to its inked rows and columns (unchanged when it has no ink)."""
    left, top, width, height = cv2.boundingRect(mask)  # of the non-zero pixels
    if width == 0:
        return mask
    return mask[top:top + height, left:left + width]


@dataclass(frozen=True)
class Layout:
    """Where the text goes: canvas size and the box (x, y, width, height) the text fills."""

    canvas_width: int
    canvas_height: int
    x: float
    y: float
    text_width: float
    text_height: float
    scale: float


def text_extent(width: float, height: float, angle: float) -> tuple[float, float]:
    """Bounding box of a width x height rectangle rotated by `angle` degrees."""
    radians = math.radians(angle)
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    return width * cos + height * sin, width * sin + height * cos


def warp_into(mask: np.ndarray, layout: Layout, angle: float, stretch: float) -> np.ndarray:
    """The mask scaled, stretched, rotated (counter-clockwise, as PIL) and placed into the canvas box."""
    scale = layout.scale
    if scale < 0.7:  # shrink with area averaging first: a bilinear warp alone would alias
        mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        scale = 1.0
    radians = math.radians(angle)
    cos, sin = math.cos(radians), math.sin(radians)
    # Plain floats: for a 2 x 3 matrix, numpy's per-call cost is most of a warp's.
    (a, b), (c, d) = (scale * (cos * stretch), scale * sin), (scale * (-sin * stretch), scale * cos)
    source_x, source_y = (mask.shape[1] - 1) / 2, (mask.shape[0] - 1) / 2
    target_x, target_y = layout.x + layout.text_width / 2 - 0.5, layout.y + layout.text_height / 2 - 0.5
    matrix = np.array([[a, b, target_x - (a * source_x + b * source_y)],
                       [c, d, target_y - (c * source_x + d * source_y)]])
    return cv2.warpAffine(mask, matrix, (layout.canvas_width, layout.canvas_height),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def quasicrystal(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """TRDG's quasicrystal pattern (vectorised): a sum of rotated plane waves, as gray levels."""
    frequency = rng.random() * 30 + 20
    phase = rng.random() * 2 * math.pi
    rotations = int(rng.integers(10, 21))
    y, x = np.meshgrid(np.linspace(-2 * math.pi, 2 * math.pi, height),
                       np.linspace(-2 * math.pi, 2 * math.pi, width), indexing="ij")
    radius, base_angle = np.hypot(x, y), np.arctan2(y, x)
    z = sum(np.cos(radius * np.sin(base_angle + i * 2 * math.pi / rotations) * frequency + phase)
            for i in range(rotations))
    return np.clip(255 - np.round(255 * z / rotations), 0, 255).astype(np.float32)


class BackgroundImages:
    """Pictures from a folder, cropped at random to the canvas (TRDG's `-b 3 -id DIR`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.paths = sorted(path for path in self.folder.rglob("*")
                            if path.suffix.lower() in BACKGROUND_IMAGE_SUFFIXES)
        if not self.paths:
            raise UserError(f"no background images ({', '.join(sorted(BACKGROUND_IMAGE_SUFFIXES))}) "
                            f"in {self.folder}")
        self._decoded: dict[Path, np.ndarray] = {}

    def _image(self, path: Path) -> np.ndarray:
        image = self._decoded.get(path)
        if image is None:
            pixels = open_image(path, name=f"background image {path}")
            image = (cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else pixels).astype(np.float32)
            if len(self._decoded) < 256:
                self._decoded[path] = image
        return image

    def crop(self, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        image = self._image(self.paths[int(rng.integers(len(self.paths)))])
        grow = max(height / image.shape[0], width / image.shape[1])
        if grow > 1:
            image = cv2.resize(image, (math.ceil(image.shape[1] * grow), math.ceil(image.shape[0] * grow)))
        top = int(rng.integers(image.shape[0] - height + 1))
        left = int(rng.integers(image.shape[1] - width + 1))
        return image[top:top + height, left:left + width]


def composite(background: np.ndarray, coverage: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Ink of colour `ink` laid over `background` (H, W, C float32) with the mask as its coverage."""
    alpha = coverage.astype(np.float32)[:, :, None]
    alpha *= np.float32(1 / 255)
    picture = ink - background  # background + alpha * (ink - background), in place: two fewer arrays
    picture *= alpha
    picture += background
    return picture


@cache
def _noise_levels() -> np.ndarray:
    """65,536 fixed draws of N(0, NOISE_SIGMA) that noise pixels pick from."""
    return np.random.default_rng(0x6E6F697365).standard_normal(1 << 16).astype(np.float32) * np.float32(NOISE_SIGMA)


def gaussian_noise(height: int, width: int, mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """TRDG's gaussian-noise background, (H, W, C) float32 around `mean` (C values): gray noise, as TRDG's.

    Each pixel picks one of 65,536 fixed normal draws with 16 random bits: a quarter of the cost of
    drawing normals, which was the largest single cost of a plain sample."""
    count = height * width
    bits = rng.bit_generator.random_raw((count + 3) // 4).view(np.uint16)[:count]
    return _noise_levels().take(bits).reshape(height, width, 1) + mean
