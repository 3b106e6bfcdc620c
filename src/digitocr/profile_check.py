"""The picture `digitocr profile check` draws: the screenshot with each region boxed, and beside it each
region's crop (as the model sees it) with its reading, so a wrong box or a bad refinement shows at a glance."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitocr.profile import Profile
from digitocr.reader import Reading

STATUS_COLORS = {"ok": (40, 200, 80), "low_confidence": (255, 170, 0), "out_of_range": (230, 50, 50),
                 "out_of_format": (230, 50, 50), None: (60, 140, 255)}
PANEL_WIDTH = 440
CROP_HEIGHT = 48
MAX_FRAME_WIDTH = 1600


def describe(name: str, reading: Reading | None, separator: str = ": ") -> str:
    """'speed: '151' = 151 (0.99, ok)' — a line per region for the terminal (the picture puts the reason, if
    any, on a line of its own)."""
    if reading is None:
        return f"{name}: (no model)"
    value = "" if reading.value is None else f" = {reading.value:g}"
    reason = f"{separator}{reading.reason}" if reading.reason else ""
    return f"{name}: {reading.text!r}{value} ({reading.confidence:.2f}, {reading.status}){reason}"


def draw_profile_check(frame: np.ndarray, profile: Profile, crops: Mapping[str, np.ndarray],
                       readings: Mapping[str, Reading] | None = None) -> Image.Image:
    """The check picture for `frame` (RGB or gray uint8), the profile's refined `crops`, and their readings."""
    screen = Image.fromarray(frame).convert("RGB")
    scale = min(1.0, MAX_FRAME_WIDTH / screen.width)
    if scale < 1.0:
        screen = screen.resize((round(screen.width * scale), round(screen.height * scale)), Image.Resampling.LANCZOS)
    font = ImageFont.load_default(size=16)
    rows = len(profile.regions)
    row_height = CROP_HEIGHT + 56
    canvas = Image.new("RGB", (screen.width + PANEL_WIDTH, max(screen.height, rows * row_height + 10)), (24, 24, 28))
    canvas.paste(screen, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for row, (name, region) in enumerate(profile.regions.items()):
        reading = readings.get(name) if readings is not None else None
        color = STATUS_COLORS[reading.status if reading is not None else None]
        x0, y0, x1, y1 = region.pixel_box(frame.shape[1], frame.shape[0], profile)
        box = [round(x0 * scale), round(y0 * scale), round(x1 * scale), round(y1 * scale)]
        draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 1, box[3] + 1], outline=color, width=2)
        draw.text((box[0], max(0, box[1] - 20)), name, fill=color, font=font)
        top = 10 + row * row_height
        crop = Image.fromarray(crops[name]).convert("RGB")
        width = min(PANEL_WIDTH - 20, max(1, round(crop.width * CROP_HEIGHT / crop.height)))
        canvas.paste(crop.resize((width, CROP_HEIGHT), Image.Resampling.NEAREST), (screen.width + 10, top))
        draw.multiline_text((screen.width + 10, top + CROP_HEIGHT + 4), describe(name, reading, "\n"), fill=color,
                            font=font)
        draw.line([(box[2] + 2, (box[1] + box[3]) // 2), (screen.width + 8, top + CROP_HEIGHT // 2)],
                  fill=color, width=1)
    return canvas
