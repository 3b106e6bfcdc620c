"""Font matching: which installed fonts draw the bank's characters most alike.

Each glyph is cut to its ink, fitted into a square keeping its aspect (so a wide geometric face and
a condensed one differ), softened, and compared by soft IoU after small shifts; a font's score is
the mean over the characters the bank holds. The best fonts fill the bank's missing characters and
join the training mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from digitocr.synth.fonts import GlyphSource
from digitocr.synth.glyphs import Glyph, GlyphBank, Rejection, build_bank, stroke_width

BOX = 32  # side of the square glyphs are compared in
RENDER_HEIGHT = 64  # fonts are drawn large, then reduced to BOX like the bank's glyphs
MAX_SHIFT = 2
# Renders per character and font, the best one counting: variable fonts draw a random weight each
# time, and the display's weight should be matched, not held against the font.
RENDERS = 3


@dataclass(frozen=True)
class FontMatch:
    """How close one font came: the mean score and the score of each compared character."""

    source: GlyphSource
    score: float
    per_char: dict[str, float]


def normalise_glyph(mask: np.ndarray) -> np.ndarray:
    """Ink-tight glyph fitted into a BOX square keeping its aspect, centred, softened; float32."""
    binary = mask >= 96
    rows, cols = np.flatnonzero(binary.any(axis=1)), np.flatnonzero(binary.any(axis=0))
    square = np.zeros((BOX, BOX), np.float32)
    if rows.size == 0:
        return square
    ink = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255.0
    inner = BOX - 4
    factor = inner / max(ink.shape)
    width, height = max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(ink, (width, height), interpolation=interpolation)
    top, left = (BOX - height) // 2, (BOX - width) // 2
    square[top : top + height, left : left + width] = resized
    return cv2.GaussianBlur(square, (0, 0), 1.0)


def glyph_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Best soft IoU (sum of minima over sum of maxima) of two normalised glyphs over small shifts."""
    best = 0.0
    for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
            shifted = np.roll(b, (dy, dx), axis=(0, 1))
            union = float(np.maximum(a, shifted).sum())
            if union > 0:
                best = max(best, float(np.minimum(a, shifted).sum()) / union)
    return best


def rank_fonts(bank: GlyphBank, fonts: Sequence[GlyphSource], rng: np.random.Generator) -> list[FontMatch]:
    """Fonts sorted best first by similarity over the bank's characters they can draw.

    A font lacking some of the bank's characters is scored on the rest, scaled by the share it
    covers, so a font with one lucky glyph does not outrank a complete one.
    """
    references = {
        char: [normalise_glyph(g.mask) for g in instances] for char, instances in bank.glyphs.items()
    }
    matches = []
    for font in fonts:
        drawable = [c for c in references if c not in font.missing(c)]
        per_char = {}
        for char in drawable:
            renders = [normalise_glyph(font.render(char, RENDER_HEIGHT, 0.0, rng)) for _ in range(RENDERS)]
            per_char[char] = max(float(np.mean([glyph_similarity(r, candidate) for r in references[char]]))
                                 for candidate in renders)
        coverage = len(per_char) / max(1, len(references))
        score = float(np.mean(list(per_char.values()))) * coverage if per_char else 0.0
        matches.append(FontMatch(font, score, per_char))
    return sorted(matches, key=lambda m: m.score, reverse=True)


COMPARED_INSTANCES = 6  # instances of a character each glyph is compared with (keeps this quick)
SUSPICIOUS_MARGIN = 0.1  # how much more a glyph must look like another character than like its own
# A rare character (one other instance to compare with) is judged only when its glyph all but duplicates an
# instance of another character (a display draws a character the same way each time) and is clearly unlike
# that other instance of its own.
NEAR_DUPLICATE = 0.97  # same-character glyphs of one display measure 0.8-0.9; a copied crop 1.0
NEAR_DUPLICATE_MARGIN = 0.2
# A glyph unlike every other instance of its own character (three or more instances) was cut wrongly, as when a
# slash leaning under its neighbour takes half of it: it resembles its own at most this share of how much the
# others resemble theirs (small UI digits: a good cut 0.6-0.75, half a '4' cut with a '/' 0.34).
MISCUT_SHARE = 0.6


def suspicious_crops(bank: GlyphBank) -> dict[str, str]:
    """Crops whose label looks wrong or that were cut wrongly, with why: a glyph that resembles the instances
    of another character clearly more than the other instances of its own (on average, where each has a few
    instances; as a near-duplicate of one instance, where its own character has a single other instance), or
    one unlike every other instance of its own."""
    normalised = {char: [normalise_glyph(glyph.mask) for glyph in instances[:COMPARED_INSTANCES + 1]]
                  for char, instances in bank.glyphs.items()}
    found: dict[str, str] = {}
    for char, instances in bank.glyphs.items():
        shapes = normalised[char]
        if len(shapes) < 2:
            continue
        alike = [[glyph_similarity(a, b) for j, b in enumerate(shapes) if j != i] for i, a in enumerate(shapes)]
        for index, glyph in enumerate(instances[:len(shapes)]):
            if glyph.source in found:
                continue
            own = alike[index]
            others = {other: [glyph_similarity(shapes[index], shape) for shape in candidates]
                      for other, candidates in normalised.items() if other != char}
            looks_like = (_looks_like(float(np.mean(own)), others) if len(own) >= 2
                          else _near_duplicate_of(own[0], others))
            if looks_like is not None:
                found[glyph.source] = f"label looks wrong: its {char!r} looks like {looks_like!r}"
            elif len(shapes) >= 3 and np.mean(own) < MISCUT_SHARE * np.median(
                    [np.mean(scores) for i, scores in enumerate(alike) if i != index]):
                found[glyph.source] = f"cut wrongly: its {char!r} is unlike the other {char!r}s"
    return found


def _looks_like(own: float, others: dict[str, list[float]]) -> str | None:
    """The character whose instances (two or more) the glyph resembles clearly more, on average, than its own."""
    alike = {other: float(np.mean(scores)) for other, scores in others.items() if len(scores) >= 2}
    if alike and max(alike.values()) > own + SUSPICIOUS_MARGIN:
        return max(alike, key=lambda key: alike[key])
    return None


def _near_duplicate_of(own: float, others: dict[str, list[float]]) -> str | None:
    """The character one of whose instances the glyph all but duplicates, while its own look clearly unlike it."""
    best = {other: max(scores) for other, scores in others.items() if scores}
    if best:
        other = max(best, key=lambda key: best[key])
        if best[other] >= NEAR_DUPLICATE and best[other] > own + NEAR_DUPLICATE_MARGIN:
            return other
    return None


def without_suspicious(bank: GlyphBank) -> GlyphBank:
    """The bank cut again without the crops whose label looks wrong, which join its rejected crops."""
    found = suspicious_crops(bank)
    if not found:
        return bank
    rebuilt = build_bank([crop for crop in bank.crops if crop.name not in found], bank.name)
    rebuilt.rejected = [*bank.rejected, *rebuilt.rejected, *(Rejection(name, why) for name, why in found.items())]
    return rebuilt


def fill_missing(bank: GlyphBank, chars: str, matches: Sequence[FontMatch],
                 rng: np.random.Generator, fonts: int = 3) -> GlyphBank:
    """A bank that also draws `chars` it lacks, taken from the `fonts` best-matching fonts having them.

    Several fonts rather than one: no font is the display's face, and a model that has seen a few
    plausible shapes of a missing character is likelier to read the real one. A borrowed glyph is
    scaled so that a character the bank does hold (drawn by the same font) comes out at the bank's
    line height, and keeps its place in the font's line box.
    """
    missing = sorted(bank.missing(chars))
    if not missing:
        return bank
    reference = max(bank.glyphs, key=lambda c: len(bank.glyphs[c]))
    glyphs = {char: list(instances) for char, instances in bank.glyphs.items()}
    for char in missing:
        donors = [m.source for m in matches if not m.source.missing(char + reference)][:fonts]
        if donors:
            glyphs[char] = [_borrow(font, char, reference, bank, rng) for font in donors]
    return GlyphBank(glyphs, bank.style, f"{bank.name}+fonts", bank.rejected, bank.crops)


def _borrow(font: GlyphSource, char: str, reference: str, bank: GlyphBank,
            rng: np.random.Generator) -> Glyph:
    """The font's glyph at the bank's scale, from the rendering whose stroke is closest to the bank's."""
    line_height = round(bank.style.glyph_height)
    candidates = []
    for _ in range(RENDERS):
        reference_rows = _ink_rows(font.render(reference, RENDER_HEIGHT, 0.0, rng))
        drawn = font.render(char, RENDER_HEIGHT, 0.0, rng)
        rows = _ink_rows(drawn)
        factor = line_height / max(1, reference_rows[1] - reference_rows[0])
        cols = np.flatnonzero((drawn >= 96).any(axis=0))
        ink = drawn[rows[0] : rows[1], cols[0] : cols[-1] + 1]
        size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
        mask = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
        top = max(0, round((rows[0] - reference_rows[0]) * factor))
        mismatch = abs(stroke_width(ink >= 128) * factor - bank.style.stroke_width)
        candidates.append((mismatch, Glyph(char, mask, top, line_height, f"font:{font.name}")))
    return min(candidates, key=lambda candidate: candidate[0])[1]


def _ink_rows(mask: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero((mask >= 96).any(axis=1))
    return (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, mask.shape[0])
