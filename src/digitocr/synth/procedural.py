"""Glyphs no font package gives: seven- and fourteen-segment displays, 5x7 dot-matrix LEDs, pixel digits,
squared display digits.

Each is a `GlyphSource` (like a font), usable as `-ft seg7`, `-ft seg14`, `-ft dotmatrix`, `-ft pixel`,
or `-ft procedural` for those four, and `-ft squared`. Every rendering draws its own style from the generator's random stream
(segment thickness, bevels, gaps, italic slant, unlit segments showing faintly, LED shape and pitch,
pixel scale), so one source covers the look of many displays. They draw the digits and the characters
of number formats: `. - : , % /`.

`-ft dotfonts` draws 5x7 LEDs whose digits come from the general model's training fonts, each font's digits
rasterised onto the grid, or (a share of the renderings) from the squared designs: dot-matrix displays are not
all drawn in the HD44780's font (flat-topped 3s, open 4s, 1s without a base), and a model that saw one chip's
digits reads another chip's as something else.

`-ft squared` draws the digits of squared display faces (dashboards, game HUDs, clocks) from straight strokes,
with the designs such faces choose between, drawn per rendering: a 1 as a bare bar, with a flag or with a
base; an open or a closed 4; a 7 straight or slanted; a 6 and a 9 with or without their tails. No font
package gives most of these, and a model that never saw a flagged 1 reads it as a 7.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from digitocr.charset import DIGITS
from digitocr.errors import UserError
from digitocr.synth.families import FONTS_EXTRA_HINT
from digitocr.synth.glyph_source import compose_glyphs, shear

SUPPORTED = "0123456789.-:,%/"
_SUPERSAMPLE = 4  # vector glyphs are drawn this many times larger, then area-averaged: anti-aliased edges
_DIGIT_TOP, _DIGIT_HEIGHT = 0.14, 0.72  # where digits sit in the line box, as fractions of its height
_NARROW = ".:,"  # characters drawn in a narrow cell of their own

# Seven segments: a top, b top right, c bottom right, d bottom, e bottom left, f top left, g middle.
SEVEN = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd", "6": "afgedc",
         "7": "abc", "8": "abcdefg", "9": "abcdfg", "-": "g"}
# Fourteen: the seven outer ones with g split into g1 (left) and g2 (right), plus h (top-left diagonal),
# i (upper vertical), j (top-right diagonal), k (bottom-left diagonal), l (lower vertical), m (bottom-right).
FOURTEEN = {"0": "abcdefjk", "1": "bcj", "2": "abg1g2ed", "3": "abg2cd", "4": "fg1g2bc", "5": "afg1md",
            "6": "afg1g2edc", "7": "ajl", "8": "abcdefg1g2", "9": "abcdfg1g2", "-": "g1g2", "/": "jk",
            "%": "fcjk"}


Stroke = tuple[tuple[float, float], ...]  # a polyline through a unit box: x rightwards, y downwards
# Squared digits, the designs of each character: strokes through the unit box, where y = 0.5 is the middle bar
# (moved up or down per rendering). Punctuation is drawn like the segment displays' (`_dot_polygons`).
_BOX: Stroke = ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))
SQUARED: dict[str, tuple[tuple[Stroke, ...], ...]] = {
    "0": ((_BOX,), (_BOX, ((0.8, 0.15), (0.2, 0.85)))),
    "1": ((((0.5, 0), (0.5, 1)),), (((0.15, 0), (0.5, 0), (0.5, 1)),),
          (((0.15, 0), (0.5, 0), (0.5, 1)), ((0.1, 1), (0.9, 1))), (((0.15, 0.25), (0.5, 0), (0.5, 1)),),
          # flags as long as the stem is off-centre, and hooks whose tip stands above the stem's top
          (((0, 0), (0.5, 0), (0.5, 1)),), (((0, 0), (0.2, 0), (0.5, 0.18), (0.5, 1)),),
          (((0.05, 0), (0.5, 0.2), (0.5, 1)),)),
    "2": ((((0, 0), (1, 0), (1, 0.5), (0, 0.5), (0, 1), (1, 1)),), (((0, 0), (1, 0), (1, 0.45), (0, 1), (1, 1)),)),
    "3": ((((0, 0), (1, 0), (1, 1), (0, 1)), ((0.3, 0.5), (1, 0.5))),
          (((0, 0), (1, 0), (1, 1), (0, 1)), ((0, 0.5), (1, 0.5))),
          (((0, 0), (1, 0), (0.4, 0.5), (1, 0.5), (1, 1), (0, 1)),)),
    "4": ((((0, 0), (0, 0.5), (1, 0.5)), ((1, 0), (1, 1))), (((0, 0), (0, 0.6), (1, 0.6)), ((0.75, 0.3), (0.75, 1))),
          (((0.7, 1), (0.7, 0), (0, 0.65), (1, 0.65)),)),
    "5": ((((1, 0), (0, 0), (0, 0.5), (1, 0.5), (1, 1), (0, 1)),),
          (((1, 0), (0, 0), (0, 0.45), (1, 0.55), (1, 1), (0, 1)),)),
    "6": ((((1, 0), (0, 0), (0, 1), (1, 1), (1, 0.5), (0, 0.5)),), (((0, 0), (0, 1), (1, 1), (1, 0.5), (0, 0.5)),)),
    "7": ((((0, 0), (1, 0), (1, 1)),), (((0, 0), (1, 0), (0.35, 1)),), (((0, 0), (1, 0), (1, 0.35), (0.45, 1)),),
          (((0, 0.25), (0, 0), (1, 0), (1, 1)),)),
    "8": ((_BOX, ((0, 0.5), (1, 0.5))), (((0.15, 0), (0.85, 0), (0.85, 0.5), (0.15, 0.5), (0.15, 0)),
                                         ((0, 0.5), (1, 0.5), (1, 1), (0, 1), (0, 0.5)))),
    "9": ((((1, 0.5), (0, 0.5), (0, 0), (1, 0), (1, 1), (0, 1)),), (((1, 0.5), (0, 0.5), (0, 0), (1, 0), (1, 1)),)),
    "-": ((((0.15, 0.5), (0.85, 0.5)),),),
    "/": ((((1, 0), (0, 1)),),),
    "%": ((((0.9, 0), (0.1, 1)), ((0, 0), (0.3, 0), (0.3, 0.3), (0, 0.3), (0, 0)),
           ((0.7, 0.7), (1, 0.7), (1, 1), (0.7, 1), (0.7, 0.7))),),
}


def _rows(*rows: str) -> np.ndarray:
    return np.array([[cell == "1" for cell in row] for row in rows], bool)


# The HD44780 character LCD's 5x7 digits and punctuation.
FONT_5X7 = {
    "0": _rows("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": _rows("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": _rows("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": _rows("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    "4": _rows("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": _rows("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": _rows("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": _rows("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": _rows("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": _rows("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    "-": _rows("00000", "00000", "00000", "11111", "00000", "00000", "00000"),
    ".": _rows("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
    ",": _rows("00000", "00000", "00000", "00000", "01100", "00100", "01000"),
    ":": _rows("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
    "/": _rows("00000", "00001", "00010", "00100", "01000", "10000", "00000"),
    "%": _rows("11000", "11001", "00010", "00100", "01000", "10011", "00011"),
}
# The smallest legible digits, as tiny game and handheld screens draw them.
FONT_3X5 = {
    "0": _rows("111", "101", "101", "101", "111"),
    "1": _rows("010", "110", "010", "010", "111"),
    "2": _rows("111", "001", "111", "100", "111"),
    "3": _rows("111", "001", "111", "001", "111"),
    "4": _rows("101", "101", "111", "001", "001"),
    "5": _rows("111", "100", "111", "001", "111"),
    "6": _rows("111", "100", "111", "101", "111"),
    "7": _rows("111", "001", "001", "001", "001"),
    "8": _rows("111", "101", "111", "101", "111"),
    "9": _rows("111", "101", "111", "001", "111"),
    "-": _rows("000", "000", "111", "000", "000"),
    ".": _rows("000", "000", "000", "000", "010"),
    ",": _rows("000", "000", "000", "010", "100"),
    ":": _rows("000", "010", "000", "010", "000"),
    "/": _rows("001", "001", "010", "100", "100"),
    "%": _rows("101", "001", "010", "100", "101"),
}

Polygon = list[tuple[float, float]]


def _bar(x0: float, y0: float, x1: float, y1: float, thickness: float, bevel: bool, gap: float) -> Polygon:
    """A segment along the centre line (x0, y0)-(x1, y1), shortened by `gap` at both ends; beveled ends
    come to a point as on LCDs, square ends as on cheap LED bars."""
    length = float(np.hypot(x1 - x0, y1 - y0))
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    nx, ny = -uy * thickness / 2, ux * thickness / 2
    x0, y0, x1, y1 = x0 + ux * gap, y0 + uy * gap, x1 - ux * gap, y1 - uy * gap
    if not bevel:
        return [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)]
    tip = min(thickness / 2, max(0.0, length / 2 - gap - 0.5))
    ax, ay, bx, by = x0 + ux * tip, y0 + uy * tip, x1 - ux * tip, y1 - uy * tip
    return [(x0, y0), (ax + nx, ay + ny), (bx + nx, by + ny), (x1, y1), (bx - nx, by - ny), (ax - nx, ay - ny)]


@dataclass(frozen=True)
class _SegmentStyle:
    thickness: float  # fraction of the digit height
    width: float  # digit cell width, fraction of the digit height
    gap: float  # fraction of the thickness cut from each segment end
    bevel: bool
    unlit: float  # coverage of segments that are off (0: not shown)


def _segment_polygons(width: float, height: float, style: _SegmentStyle, fourteen: bool) -> dict[str, Polygon]:
    t = style.thickness * height
    gap = style.gap * t

    def bar(x0: float, y0: float, x1: float, y1: float) -> Polygon:
        return _bar(x0, y0, x1, y1, t, style.bevel, gap)

    left, right, top, middle, bottom = t / 2, width - t / 2, t / 2, height / 2, height - t / 2
    centre = width / 2
    polygons = {"a": bar(left, top, right, top), "d": bar(left, bottom, right, bottom),
                "f": bar(left, top, left, middle), "b": bar(right, top, right, middle),
                "e": bar(left, middle, left, bottom), "c": bar(right, middle, right, bottom)}
    if not fourteen:
        polygons["g"] = bar(left, middle, right, middle)
        return polygons
    inset = t * 0.9  # diagonals stop short of the frame so they do not merge with it
    polygons.update({
        "g1": bar(left, middle, centre, middle), "g2": bar(centre, middle, right, middle),
        "i": bar(centre, top, centre, middle), "l": bar(centre, middle, centre, bottom),
        "h": _bar(left + inset, top + inset, centre - t / 2, middle - t / 2, t * 0.8, False, 0),
        "j": _bar(right - inset, top + inset, centre + t / 2, middle - t / 2, t * 0.8, False, 0),
        "k": _bar(left + inset, bottom - inset, centre - t / 2, middle + t / 2, t * 0.8, False, 0),
        "m": _bar(right - inset, bottom - inset, centre + t / 2, middle + t / 2, t * 0.8, False, 0),
    })
    return polygons


def _segment_names(pattern: str) -> list[str]:
    """'abg1g2' -> ['a', 'b', 'g1', 'g2']."""
    names: list[str] = []
    for char in pattern:
        if char.isdigit():
            names[-1] += char
        else:
            names.append(char)
    return names


def _dot_polygons(char: str, width: float, height: float, thickness: float) -> list[Polygon]:
    """The decimal point, comma and colon of segment displays: squares sized like the segments."""
    half = thickness * 0.6
    cx = width / 2

    def square(x: float, y: float) -> Polygon:
        return [(x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half)]

    if char == ".":
        return [square(cx, height - half)]
    if char == ",":
        return [square(cx, height - half), [(cx + half, height), (cx - half * 1.6, height + half * 2.4),
                                            (cx - half * 2.0, height + half * 1.8), (cx - half, height)]]
    return [square(cx, height * 0.3), square(cx, height * 0.72)]  # ":"


class _Canvas:
    """A supersampled drawing surface for one glyph cell (with room `below` it for a comma's tail),
    returned area-averaged to the final size."""

    def __init__(self, width: float, height: float, below: float) -> None:
        self.scale = _SUPERSAMPLE
        self.size = (max(1, int(np.ceil(width))), max(1, int(np.ceil(height + below))))
        self.image = Image.new("L", (self.size[0] * self.scale, self.size[1] * self.scale), 0)
        self.draw = ImageDraw.Draw(self.image)

    def polygon(self, points: Polygon, level: int) -> None:
        self.draw.polygon([(x * self.scale, y * self.scale) for x, y in points], fill=level)

    def ellipse(self, box: tuple[float, float, float, float], level: int) -> None:
        self.draw.ellipse([value * self.scale for value in box], fill=level)

    def rectangle(self, box: tuple[float, float, float, float], level: int) -> None:
        self.draw.rectangle([value * self.scale for value in box], fill=level)

    def result(self, rounding: float = 0.0) -> np.ndarray:
        """The cell at its final size; `rounding` (in final pixels) rounds the shapes' corners first."""
        image = np.asarray(self.image)
        if rounding > 0:  # a blur cut at half height: convex corners round off, straight edges stay put
            image = np.where(cv2.GaussianBlur(image, (0, 0), rounding * self.scale) >= 128, 255, 0).astype(np.uint8)
        return cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class SegmentDisplay:
    """Seven- or fourteen-segment digits, LCD or LED: thickness, cell width, gaps, bevels, slant and
    whether unlit segments show are drawn per rendering."""

    name: str
    fourteen: bool = False

    def missing(self, chars: str) -> set[str]:
        return {char for char in set(chars) if not char.isspace() and char not in SUPPORTED}

    def _style(self, rng: np.random.Generator) -> _SegmentStyle:
        return _SegmentStyle(thickness=float(rng.uniform(0.08, 0.17)), width=float(rng.uniform(0.45, 0.68)),
                             gap=float(rng.choice([0.0, rng.uniform(0.05, 0.5)])), bevel=bool(rng.random() < 0.7),
                             unlit=float(rng.uniform(0.06, 0.3)) if rng.random() < 0.35 else 0.0)

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        style = self._style(rng)
        slant = float(rng.uniform(0.05, 0.25)) if rng.random() < 0.4 else 0.0
        digit_height = height * _DIGIT_HEIGHT
        top = height * _DIGIT_TOP
        cell = style.width * digit_height
        pitch = cell + digit_height * float(rng.uniform(0.12, 0.3))
        unlit_level = round(255 * style.unlit)
        placed: list[tuple[np.ndarray, int, int]] = []
        pen = 0.0
        for char in text:
            if char.isspace():
                pen += pitch + spacing
                continue
            narrow = char in _NARROW
            width = digit_height * 0.25 if char in _NARROW else cell
            canvas = _Canvas(width, digit_height, digit_height * 0.2)
            if char in _NARROW:
                for polygon in _dot_polygons(char, width, digit_height, style.thickness * digit_height):
                    canvas.polygon(polygon, 255)
            else:
                # Seven segments cannot draw `/` or `%`: those take the fourteen-segment diagonals.
                fourteen = self.fourteen or char not in SEVEN
                polygons = _segment_polygons(cell, digit_height, style, fourteen)
                lit = set(_segment_names((FOURTEEN if fourteen else SEVEN)[char]))
                if unlit_level:  # first, so lit segments cover the joints they share
                    for segment, polygon in polygons.items():
                        if segment not in lit:
                            canvas.polygon(polygon, unlit_level)
                for segment in lit:
                    canvas.polygon(polygons[segment], 255)
            mask = shear(canvas.result(), slant)
            placed.append((mask, round(pen), round(top)))
            pen += (width + digit_height * 0.12 if narrow else pitch) + spacing
        return compose_glyphs(placed, height)


@functools.cache
def font_designs() -> tuple[dict[str, np.ndarray], ...]:
    """5x7 digit designs rasterised from the installed training fonts (`-ft general`), with the HD44780's
    punctuation; none when those fonts are not installed. Built once per process (about a second)."""
    from digitocr.synth.families import GENERAL_FAMILIES  # fonts import this module: load them on first use
    from digitocr.synth.fonts import family_fonts

    designs: list[dict[str, np.ndarray]] = []
    seen: set[bytes] = set()
    for font in family_fonts(GENERAL_FAMILIES):
        if font.missing(DIGITS):
            continue
        rng = np.random.default_rng(0)  # one fixed weight of a variable font: the same designs every run
        digits = {digit: _on_grid(font.render(digit, 96, 0.0, rng)) for digit in DIGITS}
        key = b"".join(digits[digit].tobytes() for digit in DIGITS)
        if key in seen or not _legible(digits):
            continue
        seen.add(key)
        designs.append({**FONT_5X7, **digits})
    return tuple(designs)


_DOT_COVERAGE = 0.35  # a cell lights when the glyph's ink covers this much of it


def _on_grid(mask: np.ndarray, rows: int = 7, columns: int = 5) -> np.ndarray:
    """A glyph's ink on an LED grid: its height onto the rows, its width in proportion (squeezed into the
    columns when wider, centred when narrower, as a 1 sits in its cell)."""
    ink_rows, ink_columns = np.flatnonzero(mask.max(axis=1) > 64), np.flatnonzero(mask.max(axis=0) > 64)
    if ink_rows.size == 0:
        return np.zeros((rows, columns), bool)
    ink = mask[ink_rows[0]:ink_rows[-1] + 1, ink_columns[0]:ink_columns[-1] + 1]
    width = min(columns, max(1, round(ink.shape[1] * rows / ink.shape[0])))
    cells = cv2.resize(ink, (width, rows), interpolation=cv2.INTER_AREA) >= 255 * _DOT_COVERAGE
    grid = np.zeros((rows, columns), bool)
    left = (columns - width + 1) // 2
    grid[:, left:left + width] = cells
    return grid


def _legible(digits: dict[str, np.ndarray]) -> bool:
    """Every digit lights a few dots in one piece (diagonal neighbours touch), and no two digits look the
    same: thin or ornate faces lose strokes on a 5x7 grid."""
    bitmaps = [digits[digit].tobytes() for digit in DIGITS]
    return len(set(bitmaps)) == len(bitmaps) and all(
        int(digits[digit].sum()) >= 5 and cv2.connectedComponents(digits[digit].astype(np.uint8), connectivity=8)[0] == 2
        for digit in DIGITS)


def _squared_y(y: float, middle: float) -> float:
    """A design's height (0.5: the middle bar) where this rendering puts its middle bar."""
    return 2 * y * middle if y <= 0.5 else middle + (2 * y - 1) * (1 - middle)


def _squared_designs(rng: np.random.Generator) -> dict[str, tuple[Stroke, ...]]:
    """One design per character: the face of one rendering."""
    return {char: designs[int(rng.integers(len(designs)))] for char, designs in SQUARED.items()}


@functools.cache
def squared_on_grid(strokes: tuple[Stroke, ...]) -> np.ndarray:
    """A squared design's strokes on the 5x7 LED grid, one dot wide (drawn once per design, read-only)."""
    grid = np.zeros((7, 5), np.uint8)
    for stroke in strokes:
        points = np.array([[round(x * 4), round(y * 6)] for x, y in stroke], np.int32)
        cv2.polylines(grid, [points], False, 1, thickness=1, lineType=cv2.LINE_8)
    bitmap = grid.astype(bool)
    bitmap.setflags(write=False)
    return bitmap


def _squared_dot_design(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A squared design on the 5x7 LED grid, with the HD44780's punctuation."""
    return {**FONT_5X7, **{digit: squared_on_grid(strokes) for digit, strokes in _squared_designs(rng).items()
                           if digit in DIGITS}}


@dataclass(frozen=True)
class SquaredDigits:
    """Squared display digits: stroke weight, cell width, the middle bar's height, rounded corners, slant,
    and each character's design are drawn per rendering (see `SQUARED`)."""

    name: str = "squared"

    def missing(self, chars: str) -> set[str]:
        return {char for char in set(chars) if not char.isspace() and char not in SQUARED and char not in _NARROW}

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        designs = _squared_designs(rng)
        digit_height = height * _DIGIT_HEIGHT
        thickness = digit_height * float(rng.uniform(0.1, 0.2))
        cell = digit_height * float(rng.uniform(0.6, 1.05))
        middle = float(rng.uniform(0.42, 0.56))
        narrow_one = rng.random() < 0.5  # proportional faces give the 1 a narrower cell
        rounding = thickness * float(rng.uniform(0.15, 0.4)) if rng.random() < 0.4 else 0.0
        slant = float(rng.uniform(0.05, 0.2)) if rng.random() < 0.25 else 0.0
        gap = digit_height * float(rng.uniform(0.12, 0.35))
        top = height * _DIGIT_TOP
        placed: list[tuple[np.ndarray, int, int]] = []
        pen = 0.0
        for char in text:
            if char.isspace():
                pen += cell + gap + spacing
                continue
            if char in _NARROW:
                width = max(digit_height * 0.25, thickness * 1.6)
                polygons = _dot_polygons(char, width, digit_height, thickness)
            else:
                width = cell * 0.6 if char == "1" and narrow_one else cell
                polygons = [_bar(thickness / 2 + x0 * (width - thickness),
                                 thickness / 2 + _squared_y(y0, middle) * (digit_height - thickness),
                                 thickness / 2 + x1 * (width - thickness),
                                 thickness / 2 + _squared_y(y1, middle) * (digit_height - thickness),
                                 thickness, False, -thickness / 2)  # ends reach past the joints: square corners
                            for stroke in designs[char] for (x0, y0), (x1, y1) in itertools.pairwise(stroke)]
            canvas = _Canvas(width, digit_height, digit_height * 0.2)
            for polygon in polygons:
                canvas.polygon(polygon, 255)
            placed.append((shear(canvas.result(rounding), slant), round(pen), round(top)))
            pen += width + (digit_height * 0.12 if char in _NARROW else gap) + spacing
        return compose_glyphs(placed, height)


SQUARED_DOT_SHARE = 0.3  # of `-ft dotfonts` renderings, drawn in a squared design rather than a font's


def led_design(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The 5x7 design of one `-ft dotfonts` rendering: a training font's or a squared one."""
    designs = font_designs()
    if rng.random() < SQUARED_DOT_SHARE or not designs:
        return _squared_dot_design(rng)
    return designs[int(rng.integers(len(designs)))]


@dataclass(frozen=True)
class DotMatrix:
    """5x7 LED/LCD character cells: round or square dots, their pitch and size, faint unlit dots. The digits
    are the HD44780's, or with `font_designs` one of `font_designs()` or a squared design per rendering."""

    name: str = "dotmatrix"
    font_designs: bool = False

    def missing(self, chars: str) -> set[str]:
        return {char for char in set(chars) if not char.isspace() and char not in FONT_5X7}

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        font = led_design(rng) if self.font_designs else FONT_5X7
        pitch = height * _DIGIT_HEIGHT / 7
        dot = pitch * float(rng.uniform(0.55, 0.95))
        round_dots = rng.random() < 0.7
        unlit_level = round(255 * float(rng.uniform(0.06, 0.25))) if rng.random() < 0.3 else 0
        slant = float(rng.uniform(0.05, 0.2)) if rng.random() < 0.15 else 0.0
        cell_gap = pitch * float(rng.uniform(0.6, 1.6))
        top = round(height * _DIGIT_TOP)
        placed: list[tuple[np.ndarray, int, int]] = []
        pen = 0.0
        for char in text:
            if char.isspace():
                pen += 5 * pitch + cell_gap + spacing
                continue
            bitmap = font[char]
            canvas = _Canvas(5 * pitch, 7 * pitch, 0)
            shape = canvas.ellipse if round_dots else canvas.rectangle
            for (row, column), on in np.ndenumerate(bitmap):
                if on or unlit_level:
                    x, y = column * pitch + (pitch - dot) / 2, row * pitch + (pitch - dot) / 2
                    shape((x, y, x + dot, y + dot), 255 if on else unlit_level)
            placed.append((shear(canvas.result(), slant), round(pen), top))
            pen += 5 * pitch + cell_gap + spacing
        return compose_glyphs(placed, height)


@dataclass(frozen=True)
class PixelDigits:
    """Bitmap digits drawn with whole square pixels (3x5 or 5x7 grids), at any integer scale: the hard
    edges of retro games and small status bars."""

    name: str = "pixel"

    def missing(self, chars: str) -> set[str]:
        return {char for char in set(chars) if not char.isspace() and char not in FONT_3X5}

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        font = FONT_3X5 if rng.random() < 0.5 else FONT_5X7
        rows, columns = next(iter(font.values())).shape
        scale = max(1, round(height * _DIGIT_HEIGHT / rows * float(rng.uniform(0.8, 1.1))))
        gap = scale * int(rng.integers(1, 3))
        top = max(0, (height - rows * scale) // 2)
        placed: list[tuple[np.ndarray, int, int]] = []
        pen = 0
        for char in text:
            if char.isspace():
                pen += columns * scale + gap + round(spacing)
                continue
            bitmap = font[char]
            mask = np.kron(bitmap, np.ones((scale, scale), bool)).astype(np.uint8) * 255
            placed.append((mask, pen, top))
            pen += bitmap.shape[1] * scale + gap + round(spacing)
        return compose_glyphs(placed, height)


SOURCES: dict[str, Callable[[], object]] = {
    "seg7": lambda: SegmentDisplay("seg7"),
    "seg14": lambda: SegmentDisplay("seg14", fourteen=True),
    "dotmatrix": DotMatrix,
    "pixel": PixelDigits,
}
ALL_SPEC = "procedural"  # the four above (the general recipe's first stage); `dotfonts` (it needs the general
# fonts installed) and `squared` are named on their own
FONT_DESIGNS_SPEC = "dotfonts"
SQUARED_SPEC = "squared"


def procedural_sources(spec: str) -> list | None:
    """The procedural glyph sources a font spec names (`seg7`, `seg14`, `dotmatrix`, `pixel`,
    `procedural` for those four, `dotfonts`, `squared`), or None when the spec names none of them."""
    key = spec.strip().lower()
    if key == ALL_SPEC:
        return [make() for make in SOURCES.values()]
    if key == SQUARED_SPEC:
        return [SquaredDigits()]
    if key == FONT_DESIGNS_SPEC:
        if not font_designs():
            raise UserError(f"-ft {FONT_DESIGNS_SPEC} draws its digits from the general model's training fonts, "
                            f"which are not installed: {FONTS_EXTRA_HINT}")
        return [DotMatrix(FONT_DESIGNS_SPEC, font_designs=True)]
    make = SOURCES.get(key)
    return [make()] if make else None
