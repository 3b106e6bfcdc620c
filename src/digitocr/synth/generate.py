"""The synthetic text-image sampler: `TextImageGenerator.sample(rng)` draws one (image, label) in-process,
fast enough for a trainer to stream from (`digitocr.synth.writer` writes datasets with it).

Its options live in `digitocr.synth.options` (GeneratorConfig) and `digitocr.synth.flags` (TRDG's
command-line flags); both are re-exported here, where callers have long found them.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import cast

import numpy as np
from PIL import Image

from digitocr.errors import UserError
from digitocr.labels import read_text_file
from digitocr.synth.augment import binarize, gaussian_blur, jpeg_degrade, to_uint8
from digitocr.synth.effects import parse_effects
from digitocr.synth.flags import parse_generator_args
from digitocr.synth.fonts import GlyphSource, resolve_fonts
from digitocr.synth.options import DIGITS, GeneratorConfig
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
    quasicrystal,
    text_extent,
    warp_into,
)

__all__ = ["GeneratorConfig", "TextImageGenerator", "parse_generator_args"]


def _read_strings(path: str) -> list[str]:
    lines = read_text_file(path, "strings file").splitlines()
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
        entropy = cast(int, np.random.SeedSequence().entropy)  # an int when no entropy is given
        self.seed = config.seed if config.seed is not None else int(entropy % 2**63)
        self._strings = _read_strings(config.strings_file) if config.strings_file else None
        chars = self.label_characters()
        self._fonts = list(fonts) if fonts is not None else resolve_fonts(list(config.fonts), chars, warn)
        if not self._fonts:
            raise UserError("no fonts to draw with")
        self._backgrounds = (BackgroundImages(config.background_dir)
                             if config.background == "image" and config.background_dir is not None else None)
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
        if self._effects.active:
            mask = self._effects.slanted(mask, rng)
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
        elif isinstance(config.threshold, tuple):
            pixels = binarize(pixels, int(rng.integers(config.threshold[0], config.threshold[1] + 1)))
        return pixels
