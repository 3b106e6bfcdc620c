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


def test_a_crop_whose_label_looks_wrong_is_named_and_left_out(tmp_path) -> None:
    """A crop labelled 17 that shows 12 (the piece count matches, so cutting alone cannot tell)."""
    from glyph_crops import crop_of

    from digitocr.cli import main
    from digitocr.images import save_image
    from digitocr.synth.glyphs import LabelledCrop
    from digitocr.synth.matching import suspicious_crops, without_suspicious

    font = regular("roboto-mono")
    rng = np.random.default_rng(1)
    texts = ["127", "71", "172", "217", "27", "712"]
    crops = [LabelledCrop(f"{text}_{i}.png", text, crop_of(font.render(text, 24, 1.0, rng), (20, 20, 20),
                                                         (240, 240, 240))) for i, text in enumerate(texts)]
    crops.append(LabelledCrop("17_wrong.png", "17", crop_of(font.render("12", 24, 1.0, rng), (20, 20, 20),
                                                            (240, 240, 240))))
    bank = build_bank(crops)
    assert suspicious_crops(bank) == {"17_wrong.png": "label looks wrong: its '7' looks like '2'"}
    cleaned = without_suspicious(bank)
    assert "17_wrong.png" not in {crop.name for crop in cleaned.crops}
    assert any(rejection.name == "17_wrong.png" for rejection in cleaned.rejected)
    assert without_suspicious(build_bank(crops[:-1])).crops == build_bank(crops[:-1]).crops  # nothing to drop
    for crop in crops:
        save_image(crop.image, tmp_path / "samples" / crop.name)
    assert main(["glyphs", str(tmp_path / "samples"), "-o", str(tmp_path / "bank")]) == 0
    assert main(["glyphs", str(tmp_path / "samples"), "-o", str(tmp_path / "kept"), "--keep-suspicious"]) == 0


def test_a_borrowed_comma_keeps_its_tail_below_the_baseline() -> None:
    """The bank draws its line box at the crops' glyph height; a comma borrowed from a font hangs below
    it. Cut at the line box, the comma would be drawn as a point and a fitted model would learn points
    as commas."""
    bank = build_bank(font_crops(regular("roboto-mono")))
    ranking = rank_fonts(bank, default_fonts(), np.random.default_rng(0))
    filled = fill_missing(bank, "0123456789,.", ranking, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    digits = filled.render("88", 40, 0.0, rng)
    comma, point = filled.render("8,8", 40, 0.0, rng), filled.render("8.8", 40, 0.0, rng)

    def ink_bottom(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask.max(axis=1) >= 128)[-1])

    assert ink_bottom(comma) >= ink_bottom(digits) + 3
    assert ink_bottom(point) <= ink_bottom(digits) + 1


def test_a_glyph_cut_wrongly_is_named_and_its_crop_left_out() -> None:
    """A slash leaning under its neighbour can leave that neighbour's glyph half cut: a '7' that is only a
    top bar is unlike the other 7s (and like no other character), so its crop goes."""
    from dataclasses import replace

    from glyph_crops import crop_of

    from digitocr.synth.glyphs import LabelledCrop
    from digitocr.synth.matching import suspicious_crops

    font = regular("roboto-mono")
    rng = np.random.default_rng(1)
    texts = ["780", "87", "708", "870", "78", "807"]
    crops = [LabelledCrop(f"{text}_{i}.png", text, crop_of(font.render(text, 24, 1.0, rng), (20, 20, 20),
                                                         (240, 240, 240))) for i, text in enumerate(texts)]
    bank = build_bank(crops)
    assert suspicious_crops(bank) == {}
    sevens = bank.glyphs["7"]
    half = sevens[2].mask[:, : sevens[2].mask.shape[1] // 2]
    sevens[2] = replace(sevens[2], mask=half)
    assert suspicious_crops(bank) == {sevens[2].source: "cut wrongly: its '7' is unlike the other '7's"}
