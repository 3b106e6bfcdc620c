"""Labelled crops drawn with an installed font, for the glyph-bank, matching and fit tests."""

from __future__ import annotations

import numpy as np

from digitocr.synth.fonts import FontFile, installed_families
from digitocr.synth.glyphs import LabelledCrop

TEXTS = ("102", "151", "17", "36", "38", "49")


def regular(family: str) -> FontFile:
    """An installed family at one weight, so every rendering of a glyph has the same shape."""
    return FontFile(installed_families()[family].primary, family, weight_range=(400.0, 400.0))


def crop_of(mask: np.ndarray, ink: tuple[int, int, int], background: tuple[int, int, int],
            pad: int = 6) -> np.ndarray:
    """An RGB crop of a coverage mask in the given colours, with margins."""
    alpha = np.pad(mask, pad).astype(np.float32)[:, :, None] / 255.0
    pixels = np.array(background, np.float32) * (1 - alpha) + np.array(ink, np.float32) * alpha
    return np.round(pixels).astype(np.uint8)


def font_crops(font, ink=(20, 20, 20), background=(240, 240, 240), height=24) -> list[LabelledCrop]:
    rng = np.random.default_rng(0)
    return [LabelledCrop(f"{text}_{i}.png", text, crop_of(font.render(text, height, 1.0, rng), ink, background))
            for i, text in enumerate(TEXTS)]
