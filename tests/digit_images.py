"""Tiny labelled digit crops drawn with Pillow's built-in font, for tests that need real pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def draw_digits(text: str, light_on_dark: bool = False, height: int = 32) -> Image.Image:
    """A crop of `text`: dark on light by default, like the seed's refined crops."""
    font = ImageFont.load_default(size=height - 8)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 12, height), 0 if light_on_dark else 255)
    ImageDraw.Draw(image).text((6 - left, (height - (bottom - top)) // 2 - top), text,
                               fill=255 if light_on_dark else 0, font=font)
    return image


def write_folder(folder: Path, labels: list[str], suffix: str = ".png") -> list[Path]:
    """Write `LABEL_INDEX.png` crops into `folder` (the seed's naming)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, label in enumerate(labels):
        path = folder / f"{label}_{index}{suffix}"
        draw_digits(label).save(path)
        paths.append(path)
    return paths


def random_labels(count: int, seed: int = 0, max_length: int = 4) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("0123456789"), size=rng.integers(1, max_length + 1)))
            for _ in range(count)]
