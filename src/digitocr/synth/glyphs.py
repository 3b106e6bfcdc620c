"""Glyph banks: real characters cut out of a few labelled crops, drawn like a font.

A ready-made font is never quite the display's face (the game's 1 is not Orbitron's 1), so the
surest way to teach a model a display is to train on the display's own glyphs. A bank keeps several
instances of each character with where they sat in their line, plus the style of the crops (size,
stroke, spacing, padding, colours, blur), so a generator can compose new strings from them and an
augmenter can imitate the crops around them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from digitocr.errors import UserError
from digitocr.files import make_folder, write_text_atomically
from digitocr.images import open_image, save_image
from digitocr.labels import list_labelled_files
from digitocr.mapping import Mapped
from digitocr.synth.glyph_source import GlyphSource, compose_glyphs

BANK_FILE = "bank.json"
# Binarisation levels tried in turn: a glow or blur can join neighbours at the first level and
# part them at a higher one.
_INK_LEVELS = (0.5, 0.65, 0.8)


@dataclass(frozen=True)
class LabelledCrop:
    """One real crop: where it came from, the text it shows, its RGB pixels."""

    name: str
    label: str
    image: np.ndarray


@dataclass(frozen=True)
class InkMap:
    """A crop reduced to ink coverage in [0, 1], whatever its polarity and colours."""

    coverage: np.ndarray
    light_on_dark: bool
    ink_rgb: tuple[int, int, int]
    background_rgb: tuple[int, int, int]


@dataclass
class Glyph:
    """One character instance: its coverage mask and where it sat in its text line."""

    char: str
    mask: np.ndarray  # uint8 coverage, 0 background, 255 ink; tight to the ink
    top: int  # rows from the top of the crop's text line to the glyph's first ink row (< 0 above it)
    line_height: int  # height of that text line (the ink extent of the crop's digits)
    source: str  # the crop it came from


@dataclass
class BankStyle(Mapped):
    """What the crops looked like, so synthetic data can look the same.

    Sizes are pixels of the original crops. Lists keep one entry per crop (or per gap) so callers
    can draw from the real distribution rather than from a guess.
    """

    glyph_height: float
    stroke_width: float
    gaps: list[float]
    left_bearing: dict[str, float]
    right_bearing: dict[str, float]
    pad_left: list[float]
    pad_right: list[float]
    pad_top: list[float]
    pad_bottom: list[float]
    crop_heights: list[int]
    crop_widths: list[int]
    light_on_dark: bool
    ink_rgb: tuple[int, int, int]
    background_rgb: tuple[int, int, int]
    edge_width: float  # mean width in px of the soft band around strokes (0 = hard edges)
    thresholded: bool  # the crops hold (nearly) two values only

    MAPPING_NAME = "glyph bank style"


@dataclass(frozen=True)
class Rejection:
    """A crop left out of the bank, and why (shown to the user by name)."""

    name: str
    reason: str


@dataclass
class GlyphBank:
    """Real glyph instances drawn like a font; implements `digitocr.synth.fonts.GlyphSource`."""

    glyphs: dict[str, list[Glyph]]
    style: BankStyle
    name: str = "bank"
    rejected: list[Rejection] = field(default_factory=list)
    crops: list[LabelledCrop] = field(default_factory=list)  # accepted crops; not saved

    @property
    def chars(self) -> str:
        return "".join(sorted(self.glyphs))

    def missing(self, chars: str) -> set[str]:
        return {c for c in chars if c not in self.glyphs and not c.isspace()}

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        """Compose `text` from randomly chosen instances, spaced by the bank's own bearings.

        Composition happens at the crops' own scale (glyphs keep their pixels and their place in the
        line), then the whole line is resized so the line box is `height` tall, so `spacing` is in output
        pixels. Ink outside the line box (a borrowed comma's tail below the baseline) is kept: cut off, a
        comma would be a point labelled as a comma.
        """
        if missing := self.missing(text):
            raise UserError(f"glyph bank {self.name} has no glyph for {''.join(sorted(missing))!r}")
        line_height = max(1, round(self.style.glyph_height))
        scale = height / line_height
        space_width = 0.6 * line_height
        pieces: list[tuple[float, Glyph]] = []  # (x position, glyph); spaces only move x
        x = 0.0
        previous: str | None = None
        for char in text:
            if char.isspace():
                x += space_width
                previous = None
                continue
            glyph = self._instance(char, line_height, rng)
            if previous is not None:
                x += self._bearing(previous, right=True) + self._bearing(char, right=False) + spacing / scale
            pieces.append((x, glyph))
            x += glyph.mask.shape[1]
            previous = char
        canvas = compose_glyphs([(glyph.mask, round(position), glyph.top) for position, glyph in pieces],
                                line_height)
        size = (max(1, round(canvas.shape[1] * scale)), max(1, round(canvas.shape[0] * scale)))
        resized = cv2.resize(canvas, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return _crop_columns_to_ink(resized)

    def _bearing(self, char: str, right: bool) -> float:
        """A measured side bearing, or half the median gap for characters borrowed from a font."""
        bearings = self.style.right_bearing if right else self.style.left_bearing
        if char in bearings:
            return bearings[char]
        return float(np.median(self.style.gaps)) / 2 if self.style.gaps else 1.0

    def _instance(self, char: str, line_height: int, rng: np.random.Generator) -> Glyph:
        """One instance of `char`, rescaled when its crop's line height differs from the bank's."""
        glyph = self.glyphs[char][int(rng.integers(len(self.glyphs[char])))]
        if glyph.line_height == line_height:
            return glyph
        factor = line_height / glyph.line_height
        h, w = glyph.mask.shape
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        mask = cv2.resize(glyph.mask, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        return Glyph(char, mask, round(glyph.top * factor), line_height, glyph.source)

    def save(self, folder: Path | str) -> Path:
        """Write one PNG per glyph instance and `bank.json` (style, char -> files); returns the json."""
        folder = Path(folder)
        make_folder(folder)
        entries: dict[str, list[dict]] = {}
        for char, instances in sorted(self.glyphs.items()):
            entries[char] = []
            for index, glyph in enumerate(instances):
                file_name = f"u{ord(char):04x}_{index:02d}.png"
                save_image(glyph.mask, folder / file_name)
                entries[char].append(
                    {"file": file_name, "top": glyph.top, "line_height": glyph.line_height,
                     "source": glyph.source}
                )
        document = {
            "format": "digitocr-glyph-bank/1",
            "style": self.style.to_mapping(),
            "glyphs": entries,
            "rejected": [asdict(r) for r in self.rejected],
        }
        path = folder / BANK_FILE
        write_text_atomically(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return path


class StrokeJitter:
    """A glyph source whose strokes come out a little thinner or bolder each time.

    Real captures of one display differ in weight (a refinement threshold thins strokes, glow and
    blur thicken them), so a model fitted to one weight must see a range around it.
    """

    def __init__(self, source: GlyphSource, amount: float = 0.25) -> None:
        self.source = source
        self.name = f"{source.name} (stroke jitter)"
        self.amount = amount

    def missing(self, chars: str) -> set[str]:
        return self.source.missing(chars)

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        mask = self.source.render(text, height, spacing, rng)
        sigma = max(0.5, 0.04 * height)
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
        level = 0.5 + rng.uniform(-self.amount, self.amount)
        edge = 0.12  # keeps the anti-aliased rim instead of a hard threshold
        return (np.clip((soft - level) / edge + 0.5, 0.0, 1.0) * 255).astype(np.uint8)


def load_bank(path: Path | str) -> GlyphBank:
    """Read a bank folder written by `GlyphBank.save` (or its `bank.json`)."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    manifest = folder / BANK_FILE
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder} is not a glyph bank (no {BANK_FILE}; make one with `digitocr glyphs`)")
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read glyph bank {manifest}: {error}") from error
    glyphs: dict[str, list[Glyph]] = {}
    for char, entries in document["glyphs"].items():
        glyphs[char] = [
            Glyph(char, _read_gray(folder / e["file"]), int(e["top"]), int(e["line_height"]), e["source"])
            for e in entries
        ]
    rejected = [Rejection(**r) for r in document.get("rejected", [])]
    return GlyphBank(glyphs, BankStyle.from_mapping(document["style"]), f"bank:{folder}", rejected)


def read_labelled_folder(folder: Path | str) -> list[LabelledCrop]:
    """Crops named `LABEL_anything.ext` (or listed in `labels.tsv`), as RGB arrays."""
    pairs = list_labelled_files(Path(folder))
    if not pairs:
        raise UserError(f"no labelled images in {folder} (expected LABEL_anything.png or labels.tsv)")
    return [LabelledCrop(path.name, label, read_rgb(path)) for path, label in pairs]


def read_rgb(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array; unreadable files are a user error naming the file."""
    pixels = open_image(path)
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else pixels


def ink_map(rgb: np.ndarray) -> InkMap:
    """How much each pixel differs from the crop's background, in [0, 1].

    The background is the crop's border colour, so any polarity and any colour pair work; a
    morphological top-hat removes slow background gradients (vignettes, glow halos) wider than a
    stroke.
    """
    image = rgb.astype(np.float32)
    border = np.concatenate([image[:2].reshape(-1, 3), image[-2:].reshape(-1, 3),
                             image[:, :2].reshape(-1, 3), image[:, -2:].reshape(-1, 3)])
    background = np.median(border, axis=0)
    distance = np.linalg.norm(image - background, axis=2)
    size = max(3, (min(rgb.shape[:2]) // 2) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    distance = cv2.morphologyEx(distance, cv2.MORPH_TOPHAT, kernel)
    level = _otsu(distance)
    strong = distance[distance > level]
    ink_level = float(np.percentile(strong, 90)) if strong.size else 1.0
    coverage = np.clip(distance / max(ink_level, 1e-6), 0.0, 1.0)
    solid = coverage > 0.8
    ink = np.median(image[solid], axis=0) if solid.any() else 255 - background
    luminance = np.array([0.299, 0.587, 0.114], np.float32)
    return InkMap(
        coverage.astype(np.float32),
        bool(ink @ luminance > background @ luminance),
        _rgb(np.round(ink)),
        _rgb(np.round(background)),
    )


def segment(coverage: np.ndarray, count: int) -> list[tuple[int, int]] | None:
    """Column spans of `count` characters, or None when the crop cannot be cut into that many.

    Connected components overlapping in x are one character (broken strokes, seven-segment digits,
    i-dots); pieces side by side are one character when the gaps between characters are clearly wider
    (the columns of dots of a dot-matrix LED), or when no blank column parts them (a small `%`: a ring, and
    a slash with its ring); specks count when a character is missing without them (the one-pixel dots of a
    small colon); joined neighbours are parted at a higher ink level or at the faintest column.
    """
    for level in _INK_LEVELS:
        binary = coverage >= level
        spans = _component_spans(binary)
        if len(spans) == count:
            return spans
        if len(spans) > count:
            merged = _merge_dot_columns(spans, count, _ink_height(binary)) or _merge_touching(spans, count)
            if merged is not None:
                return merged
        if 0 < len(spans) < count:
            with_specks = _component_spans(binary, keep_specks=True)
            if len(with_specks) == count:
                return with_specks
            split = _split_joined(coverage, spans, count)
            if split is not None:
                return split
    return None


_CHARACTER_GAP = 1.5  # a gap between characters is at least this many times the widest gap inside one
_DOT_COLUMN = 0.35  # pieces at most this wide (times the ink's height) may be columns of dots


def _merge_dot_columns(spans: list[tuple[int, int]], count: int, height: int) -> list[tuple[int, int]] | None:
    """`count` spans made of narrow pieces (columns of LED dots, at least two a character on average) by
    closing the narrowest gaps, when the gaps left open are clearly wider than every gap closed. None
    otherwise: whole characters are not merged, so a crop showing more characters than its label says stays
    rejected."""
    if len(spans) < 2 * count or max(x1 - x0 for x0, x1 in spans) > _DOT_COLUMN * height:
        return None  # an LED character is several columns of dots; "111" labelled "11" is not
    gaps = sorted(range(len(spans) - 1), key=lambda i: spans[i + 1][0] - spans[i][1])
    closed, kept = gaps[: len(spans) - count], gaps[len(spans) - count:]
    widest_closed = max(spans[i + 1][0] - spans[i][1] for i in closed)
    if kept and min(spans[i + 1][0] - spans[i][1] for i in kept) < _CHARACTER_GAP * max(widest_closed, 1):
        return None
    cuts = sorted(kept)
    starts = [0] + [i + 1 for i in cuts]
    ends = cuts + [len(spans) - 1]
    return [(spans[start][0], spans[end][1]) for start, end in zip(starts, ends)]


def _merge_touching(spans: list[tuple[int, int]], count: int) -> list[tuple[int, int]] | None:
    """`count` spans when the pieces with no blank column between them are joined; None when joining them
    leaves another count (so a crop showing more characters than its label says stays rejected)."""
    merged = [spans[0]]
    for x0, x1 in spans[1:]:
        if x0 <= merged[-1][1]:
            merged[-1] = (merged[-1][0], x1)
        else:
            merged.append((x0, x1))
    return merged if len(merged) == count else None


@dataclass(frozen=True)
class CutCrop:
    """A crop that agreed with its label: its ink, the column span of each glyph, the glyphs."""

    crop: LabelledCrop
    ink: InkMap
    spans: list[tuple[int, int]]
    glyphs: list[Glyph]


def cut_glyphs(crop: LabelledCrop, ink: InkMap) -> CutCrop | str:
    """The crop cut into glyphs, or the reason it cannot be cut to match its label."""
    chars = [c for c in crop.label if not c.isspace()]
    if not chars:
        return "empty label"
    spans = segment(ink.coverage, len(chars))
    if spans is None:
        found = len(_component_spans(ink.coverage >= 0.5))
        return f"found {found} characters, label {crop.label!r} has {len(chars)}"
    mask = np.rint(ink.coverage * 255).astype(np.uint8)
    extents = []  # each glyph's ink rows in the crop
    for x0, x1 in spans:
        ink_rows = np.flatnonzero((mask[:, x0:x1] >= 128).any(axis=1))
        extents.append((int(ink_rows[0]), int(ink_rows[-1]) + 1))
    # The line box is the digits' (a comma's tail or a tall slash must not make this crop's digits
    # look smaller than another crop's); a crop without digits has its whole ink as its line.
    line = [extent for char, extent in zip(chars, extents) if char.isdigit()] or extents
    line_top, line_bottom = min(top for top, _ in line), max(bottom for _, bottom in line)
    glyphs = [Glyph(char, mask[top:bottom, x0:x1].copy(), top - line_top, line_bottom - line_top, crop.name)
              for char, (x0, x1), (top, bottom) in zip(chars, spans, extents)]
    return CutCrop(crop, ink, spans, glyphs)


def build_bank(samples: Path | str | Sequence[LabelledCrop], name: str = "bank") -> GlyphBank:
    """Cut every crop into glyphs; crops that disagree with their label land in `rejected`."""
    crops = read_labelled_folder(samples) if isinstance(samples, (str, Path)) else list(samples)
    glyphs: dict[str, list[Glyph]] = {}
    rejected: list[Rejection] = []
    accepted: list[CutCrop] = []
    for crop in crops:
        cut = cut_glyphs(crop, ink_map(crop.image))
        if isinstance(cut, str):
            rejected.append(Rejection(crop.name, cut))
            continue
        accepted.append(cut)
        for glyph in cut.glyphs:
            glyphs.setdefault(glyph.char, []).append(glyph)
    if not accepted:
        reasons = "; ".join(f"{r.name}: {r.reason}" for r in rejected)
        raise UserError(f"no crop could be cut into glyphs matching its label ({reasons})")
    style = estimate_style(accepted)
    return GlyphBank(glyphs, style, name, rejected, [cut.crop for cut in accepted])


def estimate_style(accepted: Sequence[CutCrop]) -> BankStyle:
    """Measure size, stroke, spacing, padding, colours and edge softness over the accepted crops."""
    pads: dict[str, list[float]] = {"left": [], "right": [], "top": [], "bottom": []}
    pair_gaps: list[tuple[str, str, float]] = []
    stroke, edge, two_valued = [], [], []
    line_heights: list[int] = []
    for cut in accepted:
        crop, ink, spans, glyphs = cut.crop, cut.ink, cut.spans, cut.glyphs
        binary = ink.coverage >= 0.5
        rows = np.flatnonzero(binary.any(axis=1))
        pads["top"].append(float(rows[0]))
        pads["bottom"].append(float(binary.shape[0] - 1 - rows[-1]))
        pads["left"].append(float(spans[0][0]))
        pads["right"].append(float(binary.shape[1] - spans[-1][1]))
        for (left, right), (a, b) in zip(pairwise(spans), pairwise(glyphs), strict=True):
            pair_gaps.append((a.char, b.char, float(right[0] - left[1])))
        line_heights.append(glyphs[0].line_height)
        stroke.append(stroke_width(binary))
        edge.append(_edge_width(ink.coverage, binary))
        gray = crop.image.astype(np.float32).mean(axis=2)
        span = max(float(np.ptp(gray)), 1.0)
        middle = (gray > gray.min() + 0.1 * span) & (gray < gray.max() - 0.1 * span)
        two_valued.append(float(middle.mean()) < 0.01)
    chars = sorted({g.char for cut in accepted for g in cut.glyphs})
    left_bearing, right_bearing = _fit_bearings(chars, pair_gaps)
    inks = [cut.ink for cut in accepted]
    return BankStyle(
        glyph_height=float(np.median(line_heights)),
        stroke_width=float(np.median(stroke)),
        gaps=[gap for _, _, gap in pair_gaps],
        left_bearing=left_bearing,
        right_bearing=right_bearing,
        pad_left=pads["left"],
        pad_right=pads["right"],
        pad_top=pads["top"],
        pad_bottom=pads["bottom"],
        crop_heights=[int(cut.crop.image.shape[0]) for cut in accepted],
        crop_widths=[int(cut.crop.image.shape[1]) for cut in accepted],
        light_on_dark=sum(i.light_on_dark for i in inks) * 2 > len(inks),
        ink_rgb=_median_colour([i.ink_rgb for i in inks]),
        background_rgb=_median_colour([i.background_rgb for i in inks]),
        edge_width=float(np.mean(edge)),
        thresholded=all(two_valued),
    )


def _fit_bearings(chars: list[str], pair_gaps: list[tuple[str, str, float]]) -> tuple[dict, dict]:
    """Per-character side bearings whose sums explain the observed gaps (least squares).

    A proportional face gives near-equal bearings; a monospaced display gives a narrow glyph
    (a seven-segment 1) a wide bearing on its blank side, which a single gap cannot express.
    A small pull towards half the median gap keeps characters seen in few pairs sensible.
    """
    median = float(np.median([g for _, _, g in pair_gaps])) if pair_gaps else 2.0
    if not pair_gaps:
        return {c: median / 2 for c in chars}, {c: median / 2 for c in chars}
    index = {c: i for i, c in enumerate(chars)}
    n = len(chars)
    rows, targets = [], []
    for a, b, gap in pair_gaps:
        row = np.zeros(2 * n)
        row[n + index[a]] = 1.0  # right bearing of a
        row[index[b]] = 1.0  # left bearing of b
        rows.append(row)
        targets.append(gap)
    ridge = 0.3
    for i in range(2 * n):
        row = np.zeros(2 * n)
        row[i] = ridge
        rows.append(row)
        targets.append(ridge * median / 2)
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)
    left = {c: float(solution[index[c]]) for c in chars}
    right = {c: float(solution[n + index[c]]) for c in chars}
    return left, right


def _component_spans(binary: np.ndarray, keep_specks: bool = False) -> list[tuple[int, int]]:
    """Column spans of ink pieces, merging pieces that overlap in x; specks are dropped unless `keep_specks`."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if count <= 1:
        return []
    areas = stats[1:, cv2.CC_STAT_AREA]
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    tallest = int(heights.max())
    spans = []
    for (x, _, w, h, area) in stats[1:]:
        if not keep_specks and area <= max(1, 0.01 * areas.sum()) and h < 0.25 * tallest:
            continue
        spans.append([int(x), int(x + w)])
    spans.sort()
    merged: list[list[int]] = []
    for x0, x1 in spans:
        if merged and x0 < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    return [(a, b) for a, b in merged]


def _ink_height(binary: np.ndarray) -> int:
    rows = np.flatnonzero(binary.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _split_joined(coverage: np.ndarray, spans: list[tuple[int, int]], count: int) -> list | None:
    """Split the widest pieces at their faintest column until there are `count` pieces."""
    profile = coverage.sum(axis=0)
    spans = list(spans)
    while len(spans) < count:
        widest = max(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
        x0, x1 = spans[widest]
        width = x1 - x0
        if width < 4:
            return None
        inner = profile[x0 + width // 5 : x1 - width // 5]
        if inner.size == 0:
            return None
        cut = x0 + width // 5 + int(np.argmin(inner))
        if profile[cut] > 0.35 * profile[x0:x1].max():
            return None
        spans[widest : widest + 1] = [(x0, cut), (cut + 1, x1)]
    return spans


def stroke_width(binary: np.ndarray) -> float:
    """Twice the area over the perimeter: the width of a long thin stroke."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return float(2 * binary.sum() / perimeter) if perimeter else 1.0


def _edge_width(coverage: np.ndarray, binary: np.ndarray) -> float:
    """Soft pixels per unit of outline: about 0 for thresholded crops, 1 for anti-aliased ones."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    soft = float(((coverage > 0.1) & (coverage < 0.9)).sum())
    return soft / perimeter if perimeter else 0.0


def _otsu(values: np.ndarray) -> float:
    scaled = cv2.normalize(values, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    level, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(values.min() + level / 255 * (values.max() - values.min()))


def _median_colour(colours: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return _rgb(np.median(np.array(colours), axis=0))


def _rgb(values: np.ndarray) -> tuple[int, int, int]:
    red, green, blue = (int(v) for v in values)
    return red, green, blue


def _crop_columns_to_ink(mask: np.ndarray) -> np.ndarray:
    columns = np.flatnonzero(mask.max(axis=0) > 0)
    return mask[:, columns[0] : columns[-1] + 1] if columns.size else mask


def _read_gray(path: Path) -> np.ndarray:
    pixels = open_image(path)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY) if pixels.ndim == 3 else pixels
