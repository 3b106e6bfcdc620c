"""What real screens do to digits beyond a font: italic slant, glow, coloured and graded grounds, scanlines,
sub-pixel colour fringes, motion blur and resampling.

A generator option (`--effects "glow=0.3,scanlines=0.2"`, or `--effects all`) names the effects and the
probability each is applied to a sample. They act at four points of a sample's making: the glyphs'
mask before it is laid out (slant, so the slanted text still fits its box), the ink coverage (glow, sub-pixel
fringes), the painting (colour pairs of either polarity, gradient and
textured backgrounds), and the painted picture (scanlines, motion blur, downscaling), before the
generator's own blur, JPEG and thresholding.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Callable
from dataclasses import dataclass, fields

import cv2
import numpy as np

from digitocr.errors import UserError
from digitocr.synth.glyph_source import shear

# Probabilities `--effects all` uses: each effect on a fair share of samples, several often together.
ALL_PROBABILITIES = {"slant": 0.2, "glow": 0.25, "colors": 0.5, "gradient": 0.25, "texture": 0.2,
                     "scanlines": 0.15, "subpixel": 0.15, "motion": 0.1, "downscale": 0.2}
_SPEC_ITEM = re.compile(r"^\s*([a-z]+)\s*(?:[=:]\s*([0-9.]+))?\s*$")
SLANT = (0.08, 0.3)  # how far a slanted row moves per row of height (5 to 17 degrees)
_MASK_EFFECTS = ("slant",)  # drawn by `slanted`, before the others
_MIN_CONTRAST = 70.0  # luma difference between ink and ground in a colour pair: a display must be legible


@dataclass(frozen=True)
class Effects:
    """Per-sample probabilities of each effect (0: never)."""

    slant: float = 0.0  # italic: upright glyphs (most fonts) leaning right, as racing HUDs draw them
    glow: float = 0.0  # a soft halo around the ink, as LED, neon and HUD digits have
    colors: float = 0.0  # a random colour pair, light-on-dark or dark-on-light alike
    gradient: float = 0.0  # a linear colour gradient behind the text
    texture: float = 0.0  # grain, blotches, stripes or a checker pattern behind the text
    scanlines: float = 0.0  # darker rows every 2-4 pixels (CRT look, video captures)
    subpixel: float = 0.0  # ClearType-like colour fringes: R and B coverage shifted by a third of a pixel
    motion: float = 0.0  # horizontal motion blur (a value changing while a frame is captured)
    downscale: float = 0.0  # shrunk and enlarged again: lost detail, blocky or soft edges

    def __post_init__(self) -> None:
        for field in fields(self):
            if not 0.0 <= getattr(self, field.name) <= 1.0:
                raise UserError(f"effect {field.name}: the probability must be within 0-1")

    @property
    def active(self) -> bool:
        return any(getattr(self, field.name) > 0 for field in fields(self))

    def slanted(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The glyphs' mask, slanted with the `slant` probability (no random draw when that is 0, so seeded
        samples without it stay as they were)."""
        if self.slant and rng.random() < self.slant:
            return shear(mask, float(rng.uniform(*SLANT)))
        return mask

    def apply(self, coverage: np.ndarray, rng: np.random.Generator, channels: int,
              paint: Callable[[np.ndarray, np.random.Generator], np.ndarray]) -> np.ndarray:
        """The painted float picture (H, W, C) for an ink coverage mask; `paint` is the generator's own
        painting, used when no colour effect is drawn. Random draws come in a fixed order (seeded runs repeat)."""
        draws = {field.name: rng.random() < getattr(self, field.name) for field in fields(self)
                 if field.name not in _MASK_EFFECTS}
        alpha = coverage.astype(np.float32) * np.float32(1 / 255)
        if draws["glow"]:
            alpha = glow(alpha, rng)
        if draws["colors"] or draws["gradient"] or draws["texture"]:
            ink, ground = color_pair(rng) if draws["colors"] else _gray_pair(rng)
            background = np.broadcast_to(ground, (*alpha.shape, 3)).astype(np.float32)
            if draws["gradient"]:
                background = gradient(alpha.shape, ground, rng)
            if draws["texture"]:
                background = texture(background, rng)
            per_channel = subpixel(alpha, rng) if draws["subpixel"] else alpha[:, :, None]
            picture = background + per_channel * (ink - background)
            if channels == 1:
                picture = picture @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
        else:
            picture = paint(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8), rng)
        if draws["scanlines"]:
            picture = scanlines(picture, rng)
        if draws["motion"]:
            picture = motion_blur(picture, rng)
        if draws["downscale"]:
            picture = downscale(picture, rng)
        return picture


def parse_effects(spec: str | dict | None) -> Effects:
    """Effects from 'glow=0.3,scanlines' (a bare name means probability 0.5), 'all', '' or a mapping."""
    if not spec:
        return Effects()
    if isinstance(spec, dict):
        items = {str(name): value for name, value in spec.items()}
    elif spec.strip().lower() == "all":
        return Effects(**ALL_PROBABILITIES)
    else:
        items = {}
        for part in spec.split(","):
            match = _SPEC_ITEM.match(part.lower())
            if not match:
                raise UserError(f"effects: cannot read {part!r}; expected NAME or NAME=PROBABILITY")
            items[match.group(1)] = match.group(2) if match.group(2) is not None else 0.5
    known = {field.name for field in fields(Effects)}
    unknown = sorted(set(items) - known)
    if unknown:
        raise UserError(f"unknown effect(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}, all")
    try:
        return Effects(**{name: float(value) for name, value in items.items()})
    except (TypeError, ValueError):
        raise UserError(f"effects: probabilities must be numbers, got {spec!r}") from None


def glow(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coverage with a halo: the ink blurred wide and added back, as light bleeding from lit segments."""
    sigma = float(rng.uniform(0.04, 0.15)) * alpha.shape[0]
    halo = cv2.GaussianBlur(alpha, (0, 0), sigma) * np.float32(rng.uniform(0.6, 1.6))
    return np.clip(np.maximum(alpha, halo), 0, 1)


def _luma(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114], np.float32))


def color_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An ink and a ground colour of any hue, either one the lighter, at least _MIN_CONTRAST apart in luma."""
    while True:
        hues = rng.random(2)
        saturation = rng.uniform(0, 1, 2) ** 0.7
        light = rng.random() < 0.5  # light ink on a dark ground, or the other way round
        values = (rng.uniform(0.65, 1.0), rng.uniform(0.0, 0.35)) if light else \
            (rng.uniform(0.0, 0.4), rng.uniform(0.6, 1.0))
        ink, ground = (np.array(colorsys.hsv_to_rgb(hues[i], saturation[i], values[i]), np.float32) * 255
                       for i in range(2))
        if abs(_luma(ink) - _luma(ground)) >= _MIN_CONTRAST:
            return ink, ground


def _gray_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    dark, bright = rng.uniform(0, 90), rng.uniform(170, 255)
    ink, ground = (bright, dark) if rng.random() < 0.5 else (dark, bright)
    return np.full(3, ink, np.float32), np.full(3, ground, np.float32)


def gradient(shape: tuple[int, int], ground: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A linear gradient in a random direction from the ground colour to a shifted one."""
    height, width = shape
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    other = np.clip(ground + rng.uniform(-80, 80, 3).astype(np.float32), 0, 255)
    return ground + ramp[:, :, None] * (other - ground)


def texture(background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ground with grain, soft blotches, stripes or a checker pattern (small in amplitude)."""
    height, width = background.shape[:2]
    kind = int(rng.integers(4))
    amplitude = np.float32(rng.uniform(6, 28))
    if kind == 0:
        pattern = rng.standard_normal((height, width), dtype=np.float32)
    elif kind == 1:
        pattern = cv2.GaussianBlur(rng.standard_normal((height, width), dtype=np.float32), (0, 0),
                                   float(rng.uniform(2, 6)))
        pattern /= max(1e-6, float(np.abs(pattern).max()))
    else:
        period = int(rng.integers(2, 7))
        y, x = np.mgrid[0:height, 0:width]
        cells = (x // period + y // period) if kind == 3 else ((x + y) // period)
        pattern = (cells % 2).astype(np.float32) * 2 - 1
    return np.clip(background + amplitude * pattern[:, :, None], 0, 255)


def subpixel(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-channel coverage (H, W, 3) as RGB-stripe sub-pixel rendering gives: red and blue shifted a
    third of a pixel apart (BGR panels the other way)."""
    shift = np.float32(1 / 3 if rng.random() < 0.5 else -1 / 3)

    def moved(dx: np.float32) -> np.ndarray:
        matrix = np.array([[1, 0, dx], [0, 1, 0]], np.float32)
        return cv2.warpAffine(alpha, matrix, (alpha.shape[1], alpha.shape[0]), flags=cv2.INTER_LINEAR)

    return np.stack([moved(-shift), alpha, moved(shift)], axis=2)


def scanlines(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every `period`-th row darkened (or, on dark grounds, the lines between glowing rows)."""
    period = int(rng.integers(2, 5))
    phase = int(rng.integers(period))
    factor = np.float32(rng.uniform(0.45, 0.85))
    rows = np.ones(picture.shape[0], np.float32)
    rows[phase::period] = factor
    return picture * rows[:, None, None]


def motion_blur(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A horizontal box blur a few pixels long."""
    length = int(rng.integers(2, max(3, picture.shape[0] // 8) + 1))
    kernel = np.full((1, length), 1 / length, np.float32)
    blurred = cv2.filter2D(picture, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(picture.shape)


def downscale(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shrunk by 0.35-0.8 and enlarged back to its size, nearest or bilinear (blocky or soft)."""
    height, width = picture.shape[:2]
    factor = float(rng.uniform(0.35, 0.8))
    small = cv2.resize(picture, (max(1, round(width * factor)), max(4, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    method = cv2.INTER_NEAREST if rng.random() < 0.4 else cv2.INTER_LINEAR
    return cv2.resize(small, (width, height), interpolation=method).reshape(picture.shape)
