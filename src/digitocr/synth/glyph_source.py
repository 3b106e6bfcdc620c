"""What every glyph source is (fonts, glyph banks, procedural digits): the protocol the generator draws
through, and the one way they all compose placed glyphs into a line, so they crop alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import cv2
import numpy as np


@runtime_checkable
class GlyphSource(Protocol):
    """Anything that can draw a string as an ink coverage mask (fonts, glyph banks)."""

    name: str

    def missing(self, chars: str) -> set[str]:
        """The characters of `chars` this source cannot draw."""
        ...

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        """uint8 mask (255 = ink), about `height` px tall (the line box), cropped to the ink horizontally."""
        ...



def compose_glyphs(placed: Iterable[tuple[np.ndarray, int, int]], line_height: int) -> np.ndarray:
    """Union of glyph masks at (x, top) offsets, cropped to the ink horizontally and to the line box
    (grown to any overhanging ink) vertically. Shared by every GlyphSource so they crop alike."""
    placed = list(placed)
    if not placed:
        return np.zeros((line_height, 1), np.uint8)
    left = min(x for _, x, _ in placed)
    right = max(x + mask.shape[1] for mask, x, _ in placed)
    top = min(0, min(y for _, _, y in placed))
    bottom = max(line_height, max(y + mask.shape[0] for mask, _, y in placed))
    canvas = np.zeros((bottom - top, right - left), np.uint8)
    for mask, x, y in placed:
        region = canvas[y - top:y - top + mask.shape[0], x - left:x - left + mask.shape[1]]
        np.maximum(region, mask, out=region)
    return canvas


def shear(mask: np.ndarray, slant: float) -> np.ndarray:
    """Italic: each row moves right by `slant` times its height above the bottom (the mask widens)."""
    if slant <= 0:
        return mask
    height, width = mask.shape
    extra = int(np.ceil(slant * height))
    matrix = np.array([[1, -slant, slant * height], [0, 1, 0]], np.float32)
    return cv2.warpAffine(mask, matrix, (width + extra, height), flags=cv2.INTER_LINEAR)
