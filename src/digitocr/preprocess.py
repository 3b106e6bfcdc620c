"""Crop -> network input: THE one function used by training, evaluation and reading alike.

A crop may come refined (black digits on white, generous margins) or raw (white anti-aliased digits
on a dark gauge, tight). Normalising polarity, contrast and the margin around the ink here is what
lets a model trained on one kind read the other.
"""

from __future__ import annotations

import functools
import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

import cv2
import numpy as np

from digitocr.errors import UserError
from digitocr.images import ImageSource, open_image
from digitocr.mapping import Mapped

BACKGROUND = 1.0  # the value of background (and padding) after preprocessing: dark ink on light
_UNIT_SCALE = np.arange(256, dtype=np.float32) * np.float32(1 / 255)  # uint8 -> [0, 1] as one table look-up

# Crops are far too small for OpenCV's thread pool: waking its threads costs more than the work, and the
# spinning threads then slow the network call that follows (80 us of a 0.5 ms read on two cores).
cv2.setNumThreads(1)


@dataclass(frozen=True)
class Preprocess(Mapped):
    """How a crop becomes a float32 (height, width) array in [0, 1], dark ink on a light background.

    `crop_to_ink` trims the crop to its ink (plus `margin` x height on every side) so the size of the
    margins around the digits does not matter; `min_width` keeps very narrow crops readable by CTC. The width
    is padded with background up to a multiple of `width_step` (the networks' time stride): no column is left
    over from the last time step, and crops of nearby widths share a network call (a reader batches crops of
    one width only, so that a crop reads the same alone and in any batch).
    """

    height: int = 32
    normalize_polarity: bool = True
    stretch_contrast: bool = True
    binarize: bool = False
    crop_to_ink: bool = True
    margin: float = 0.15
    min_width: int = 16
    width_step: int = 4

    MAPPING_NAME = "preprocessing"

    def __post_init__(self) -> None:
        if self.height < 2 or self.min_width < 1 or self.width_step < 1:
            raise UserError(f"preprocessing needs height >= 2, min_width >= 1 and width_step >= 1, got "
                            f"{self.height}, {self.min_width} and {self.width_step}")

    def __call__(self, image: ImageSource) -> np.ndarray:
        gray = to_gray(image)
        if gray.size == 0 or min(gray.shape) < 2:
            where = f"{image}: " if isinstance(image, str | os.PathLike) else ""
            raise UserError(f"{where}cannot read an image of size {gray.shape[1]}x{gray.shape[0]}")
        # One histogram serves the polarity vote, the ink count and the background level below.
        histogram = np.bincount(gray.ravel(), minlength=256)
        threshold, dark = otsu_split(gray)
        rows, cols = _profiles(dark)
        if self.normalize_polarity and _background_is_dark(rows, cols, histogram, threshold):
            gray = cv2.bitwise_not(gray)
            threshold = 255 - threshold
            histogram = histogram[::-1]
            rows, cols = _dark_profiles(gray, threshold)
        if self.crop_to_ink:
            gray = _crop_to_ink(gray, rows, cols, histogram, threshold, self.margin)
        if self.stretch_contrast:
            gray = _stretch(gray)
        rows, cols = gray.shape
        width = max(1, round(cols * self.height / rows))
        gray = cv2.resize(gray, (width, self.height),
                          interpolation=cv2.INTER_AREA if rows > self.height else cv2.INTER_LINEAR)
        if self.binarize:  # after resizing, so the network sees exactly two values (255 from Otsu's threshold up)
            gray = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
        padding = max(self.min_width, -(-width // self.width_step) * self.width_step) - width
        if padding > 0:  # white (255) becomes BACKGROUND: padding bytes costs less than padding floats
            gray = cv2.copyMakeBorder(gray, 0, 0, 0, padding, cv2.BORDER_CONSTANT, value=255)
        return cv2.LUT(gray, _UNIT_SCALE)


def to_gray(image: ImageSource) -> np.ndarray:
    """A uint8 grayscale array from anything `digitocr.images.open_image` reads."""
    array = open_image(image)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(array)


def otsu_split(gray: np.ndarray) -> tuple[int, np.ndarray]:
    """Otsu's threshold of a uint8 array (values below it are one class, ink or background, the rest the
    other) and the map of the values below it (1, else 0): one OpenCV call computes both."""
    value, below = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return int(value) + 1, below


def _dark_profiles(gray: np.ndarray, threshold: int) -> tuple[list[int], list[int]]:
    """How many pixels of each row and of each column lie below `threshold`."""
    return _profiles(cv2.threshold(gray, threshold - 1, 1, cv2.THRESH_BINARY_INV)[1])


def _profiles(dark: np.ndarray) -> tuple[list[int], list[int]]:
    """The sums of each row and of each column of a map of 1s and 0s (lists: they are read an entry at a
    time, which costs less in Python's own integers)."""
    rows = cv2.reduce(dark, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().tolist()
    cols = cv2.reduce(dark, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0].tolist()
    return rows, cols


def _background_is_dark(rows: list[int], cols: list[int], histogram: np.ndarray, threshold: int) -> bool:
    """Background is the Otsu class that covers most of the border; ink rarely touches all four edges."""
    dark_border = (rows[0] + rows[-1] + cols[0] + cols[-1]) / (2 * (len(rows) + len(cols)))
    if abs(dark_border - 0.5) > 0.1:
        return dark_border > 0.5
    # ambiguous border: the majority class is background
    return int(histogram[:threshold].sum()) / (len(rows) * len(cols)) > 0.5


def _crop_to_ink(gray: np.ndarray, rows: list[int], cols: list[int], histogram: np.ndarray, threshold: int,
                 margin: float) -> np.ndarray:
    """Trim to the box holding 98% of the ink (the pixels below `threshold`, so specks do not stretch it),
    grown back over the ink that touches it, faint ink included (a comma's tail, a thin serif: see `_grown`),
    then add the margin, filled with the median background level."""
    counts = np.cumsum(histogram)  # how many pixels lie at or below each value
    ink = int(counts[threshold - 1]) if threshold > 0 else 0
    if ink < 4:
        return gray
    count = int(counts[-1]) - ink
    if count:  # the background's median: the mean of its two middle values (the same one when the count is odd)
        level = sum(counts.searchsorted([ink + (count - 1) // 2, ink + count // 2], "right").tolist()) // 2
    else:
        level = 255
    top, bottom = _mass_span(rows)
    left, right = _mass_span(cols)
    reach = max(1, round(GROWTH * (bottom - top)))
    # Faint ink: darker than a quarter of the way from Otsu's threshold to the background. An anti-aliased
    # comma's tail on 11-pixel text is a pixel or two just lighter than the threshold, and without it the
    # comma reads as a point; a glow or JPEG's ringing lies further out, nearer the background.
    faint_rows, faint_columns = _dark_profiles(gray, threshold + (level - threshold + 3) // 4)
    top, bottom = _grown(faint_rows, top, bottom, reach)
    left, right = _grown(faint_columns, left, right, reach)
    pad = max(1, round(margin * (bottom - top)))
    return cv2.copyMakeBorder(gray[top:bottom, left:right], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=level)


def _mass_span(profile: list[int]) -> tuple[int, int]:
    """The slice of `profile` without its first and last 1% of mass (in integers: exact, and cheap on short rows)."""
    cumulative = list(accumulate(profile))
    total = cumulative[-1]
    start = bisect_right(cumulative, total // 100)  # past the entries holding at most 1%
    stop = bisect_left(cumulative, -(-99 * total // 100)) + 1  # through the first entry reaching 99%
    return start, max(stop, start + 1)


GROWTH = 0.3  # how far (x the ink's height) the box grows back over ink that touches it: a comma's tail


def _grown(profile: list[int], start: int, stop: int, reach: int) -> tuple[int, int]:
    """The span widened over the ink next to it, `reach` entries at most on each side, up to the first
    entry without ink. The 1% trimmed off each end of the mass takes the tail of a comma (a few pixels
    below the baseline: less than 1% of a number's ink), and a comma without its tail is a point: models
    would learn to read points as commas. A speck stays out: blank rows or columns lie between it and the ink."""
    low, high = max(0, start - reach), min(len(profile), stop + reach)
    while start > low and profile[start - 1] > 0:
        start -= 1
    while stop < high and profile[stop] > 0:
        stop += 1
    return start, stop


@functools.lru_cache(maxsize=4096)
def _stretch_table(low: int, high: int) -> np.ndarray:
    """The look-up table mapping `low`..`high` onto 0..255 (cached: building it costs more than applying it)."""
    table = np.clip((np.arange(256) - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    table.setflags(write=False)
    return table


def _stretch(gray: np.ndarray) -> np.ndarray:
    """Map the 1st..99th percentile of the values onto 0..255 (integer forms of the float quantiles: the same)."""
    cumulative = np.cumsum(np.bincount(gray.ravel(), minlength=256))
    total = int(cumulative[-1])
    low, high = cumulative.searchsorted([-(-total // 100), -(-99 * total // 100)]).tolist()
    if high - low < 1:
        return np.full_like(gray, 255)
    return cv2.LUT(gray, _stretch_table(low, high))
