"""A contact sheet: a grid of images captioned with their labels, for eyeballing a dataset."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from digitocr.errors import UserError


def contact_sheet(samples: Sequence[tuple[Image.Image, str]], columns: int = 8) -> Image.Image:
    """A grid of images, each captioned with its label, for eyeballing a dataset."""
    if not samples:
        raise UserError("no images for a contact sheet")
    font = ImageFont.load_default()
    caption_height, gap = 12, 4
    cell_width = max(image.width for image, _ in samples) + gap
    cell_height = max(image.height for image, _ in samples) + caption_height + gap
    rows = math.ceil(len(samples) / columns)
    sheet = Image.new("RGB", (min(columns, len(samples)) * cell_width + gap, rows * cell_height + gap), "white")
    draw = ImageDraw.Draw(sheet)
    for position, (image, label) in enumerate(samples):
        x = gap + (position % columns) * cell_width
        y = gap + (position // columns) * cell_height
        sheet.paste(image.convert("RGB"), (x, y))
        draw.text((x, y + image.height + 1), label, fill=(200, 0, 0), font=font)
    return sheet
