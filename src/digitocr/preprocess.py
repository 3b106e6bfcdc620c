"""Crop -> network input: THE one function used by training, evaluation and reading alike.

A crop may come refined (black digits on white, generous margins) or raw (white anti-aliased digits
on a dark gauge, tight). Normalising polarity, contrast and the margin around the ink here is what
lets a model trained on one kind read the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np
from PIL import Image

from digitocr.errors import UserError

BACKGROUND = 1.0  # the value of background (and padding) after preprocessing: dark ink on light


@dataclass(frozen=True)
class Preprocess:
    """How a crop becomes a float32 (height, width) array in [0, 1], dark ink on a light background.

    `crop_to_ink` trims the crop to its ink (plus `margin` x height on every side) so the size of the
    margins around the digits does not matter; `min_width` keeps very narrow crops readable by CTC.
    """

    height: int = 32
    normalize_polarity: bool = True
    stretch_contrast: bool = True
    binarize: bool = False
    crop_to_ink: bool = True
    margin: float = 0.15
    min_width: int = 16

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any]) -> Preprocess:
        known = {field.name for field in fields(cls)}
        unknown = set(mapping) - known
        if unknown:
            raise UserError(f"unknown preprocessing options: {', '.join(sorted(unknown))}")
        return cls(**mapping)

    def __call__(self, image: Image.Image | np.ndarray) -> np.ndarray:
        gray = to_gray(image)
        if gray.size == 0 or min(gray.shape) < 2:
            raise UserError(f"cannot read an image of size {gray.shape[1]}x{gray.shape[0]}")
        threshold = otsu_threshold(gray)
        if self.normalize_polarity and _background_is_dark(gray, threshold):
            gray = 255 - gray
            threshold = 255 - threshold
        if self.crop_to_ink:
            gray = _crop_to_ink(gray, gray < threshold, self.margin)
        if self.stretch_contrast:
            gray = _stretch(gray)
        rows, cols = gray.shape
        width = max(1, round(cols * self.height / rows))
        gray = cv2.resize(gray, (width, self.height),
                          interpolation=cv2.INTER_AREA if rows > self.height else cv2.INTER_LINEAR)
        if self.binarize:  # after resizing, so the network sees exactly two values
            gray = np.where(gray >= otsu_threshold(gray), 255, 0).astype(np.uint8)
        array = gray.astype(np.float32) * np.float32(1 / 255)
        return pad_width(array, self.min_width)


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """A uint8 grayscale array from a PIL image or an array (gray, RGB or RGBA; alpha flattened on black)."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            flat = Image.new("RGBA", image.size, (0, 0, 0, 255))
            image = Image.alpha_composite(flat, image)
        return np.asarray(image.convert("L"))
    array = np.asarray(image)
    if array.ndim == 3:
        array = cv2.cvtColor(array[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if array.dtype != np.uint8:
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(array * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def pad_width(array: np.ndarray, width: int) -> np.ndarray:
    """Pad a preprocessed array on the right with background up to `width` columns."""
    if array.shape[1] >= width:
        return array
    padded = np.full((array.shape[0], width), BACKGROUND, dtype=array.dtype)
    padded[:, : array.shape[1]] = array
    return padded


def otsu_threshold(gray: np.ndarray) -> int:
    """Otsu's threshold of a uint8 array: values below it are one class (ink or background), the rest the other."""
    value, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return int(value) + 1


def _background_is_dark(gray: np.ndarray, threshold: int) -> bool:
    """Background is the Otsu class that covers most of the border; ink rarely touches all four edges."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    dark_border = float((border < threshold).mean())
    if abs(dark_border - 0.5) > 0.1:
        return dark_border > 0.5
    return float((gray < threshold).mean()) > 0.5  # ambiguous border: the majority class is background


def _crop_to_ink(gray: np.ndarray, ink: np.ndarray, margin: float) -> np.ndarray:
    """Trim to the box holding 98% of the ink (so specks do not stretch it), then add the margin."""
    if np.count_nonzero(ink) < 4:
        return gray
    top, bottom = _mass_span(np.count_nonzero(ink, axis=1))
    left, right = _mass_span(np.count_nonzero(ink, axis=0))
    pad = max(1, round(margin * (bottom - top)))
    background = gray[~ink]
    level = int(np.median(background)) if background.size else 255
    return cv2.copyMakeBorder(gray[top:bottom, left:right], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=level)


def _mass_span(profile: np.ndarray, trim: float = 0.01) -> tuple[int, int]:
    cumulative = np.cumsum(profile) / profile.sum()
    start = int(np.searchsorted(cumulative, trim, side="right"))
    stop = int(np.searchsorted(cumulative, 1.0 - trim, side="left")) + 1
    return start, max(stop, start + 1)


def _stretch(gray: np.ndarray) -> np.ndarray:
    """Map the 1st..99th percentile of the values onto 0..255."""
    cumulative = np.cumsum(np.bincount(gray.ravel(), minlength=256))
    low = int(np.searchsorted(cumulative, 0.01 * cumulative[-1]))
    high = int(np.searchsorted(cumulative, 0.99 * cumulative[-1]))
    if high - low < 1:
        return np.full_like(gray, 255)
    table = np.clip((np.arange(256) - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    return cv2.LUT(gray, table)
