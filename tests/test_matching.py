"""Font matching: the font the samples were drawn with ranks first; missing glyphs are borrowed."""

from __future__ import annotations

import numpy as np
import pytest
from glyph_crops import font_crops, regular

from digitocr.synth.fonts import default_fonts
from digitocr.synth.glyphs import build_bank
from digitocr.synth.matching import fill_missing, rank_fonts


@pytest.mark.parametrize("family", ["orbitron", "roboto-mono", "oswald"])
def test_true_font_ranks_first_among_defaults(family: str) -> None:
    bank = build_bank(font_crops(regular(family)))
    ranking = rank_fonts(bank, default_fonts(), np.random.default_rng(0))
    assert ranking[0].source.name == family
    assert ranking[0].score > ranking[1].score


def test_missing_characters_come_from_the_best_font() -> None:
    crops = [c for c in font_crops(regular("orbitron")) if c.label in ("151", "49")]
    bank = build_bank(crops)
    assert bank.missing("0123456789") == set("023678")
    ranking = rank_fonts(bank, default_fonts(), np.random.default_rng(0))
    filled = fill_missing(bank, "0123456789", ranking, np.random.default_rng(0))
    assert filled.missing("0123456789") == set()
    assert filled.glyphs["7"][0].source == f"font:{ranking[0].source.name}"
    real_height = bank.glyphs["1"][0].mask.shape[0]
    assert abs(filled.glyphs["0"][0].mask.shape[0] - real_height) <= 2
