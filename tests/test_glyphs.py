"""Glyph banks: cutting labelled crops into glyphs, style, saving, drawing like a font."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from glyph_crops import font_crops
from PIL import Image

from digitocr.cli import main
from digitocr.errors import UserError
from digitocr.synth.fonts import GlyphSource, resolve_fonts
from digitocr.synth.glyphs import LabelledCrop, build_bank, load_bank, read_labelled_folder
from digitocr.synth.matching import glyph_similarity, normalise_glyph


@pytest.mark.parametrize("colours", [((20, 20, 20), (240, 240, 240)), ((250, 250, 250), (10, 30, 60))],
                         ids=["dark-on-light", "light-on-dark"])
def test_bank_recovers_the_font_glyphs(font, colours) -> None:
    bank = build_bank(font_crops(font, *colours))
    assert bank.rejected == []
    assert bank.chars == "0123456789"
    assert bank.style.light_on_dark == (colours[0][0] > 128)
    rng = np.random.default_rng(1)
    for char, instances in bank.glyphs.items():
        truth = normalise_glyph(font.render(char, 24, 0.0, rng))
        for glyph in instances:
            assert glyph_similarity(normalise_glyph(glyph.mask), truth) > 0.8, char
    assert 10 <= bank.style.glyph_height <= 24
    assert not bank.style.thresholded


def test_crop_disagreeing_with_its_label_is_reported_by_name(font) -> None:
    crops = font_crops(font)
    crops[0] = LabelledCrop("1234_bad.png", "1234", crops[0].image)  # shows 102
    bank = build_bank(crops)
    assert [r.name for r in bank.rejected] == ["1234_bad.png"]
    assert "1234" in bank.rejected[0].reason


def test_no_usable_crop_is_a_user_error(font) -> None:
    crop = font_crops(font)[0]
    with pytest.raises(UserError, match="no crop could be cut"):
        build_bank([LabelledCrop("9_x.png", "9", crop.image)])


def test_broken_strokes_and_segments_make_one_glyph() -> None:
    """Seven-segment digits are several components each; pieces overlapping in x are one glyph."""
    image = np.full((30, 40, 3), 255, np.uint8)
    for left in (4, 22):  # two "8"-like digits of five separate bars
        image[4:6, left + 2:left + 10] = 0
        image[14:16, left + 2:left + 10] = 0
        image[24:26, left + 2:left + 10] = 0
        image[6:13, left:left + 2] = 0
        image[17:24, left + 10:left + 12] = 0
    bank = build_bank([LabelledCrop("88_seg.png", "88", image)])
    assert len(bank.glyphs["8"]) == 2


def test_a_small_percent_sign_and_colon_make_one_glyph_each() -> None:
    """At 11 pixels a `%` falls apart into a ring and a slash with its ring, with no blank column between them,
    and a colon into two one-pixel dots, which are dropped as specks unless a character is missing."""
    percent = np.full((20, 24, 3), 255, np.uint8)
    percent[4:16, 3:5] = 0  # "1"
    percent[4:7, 8:11] = 0  # the ring: columns 8-10
    percent[8:16, 11:15] = 0  # the slash and its ring: from column 11, not touching the ring (8-connected)
    colon = np.full((20, 24, 3), 255, np.uint8)
    colon[4:16, 3:5] = 0
    colon[8, 9] = colon[13, 9] = 0
    colon[4:16, 14:16] = 0
    bank = build_bank([LabelledCrop("1%_small.png", "1%", percent), LabelledCrop("1:1_small.png", "1:1", colon)])
    assert bank.rejected == []
    assert [glyph.mask.shape[1] for glyph in bank.glyphs["%"]] == [7]
    assert [glyph.mask.shape for glyph in bank.glyphs[":"]] == [(6, 1)]
    assert len(bank.glyphs["1"]) == 3


def test_dot_matrix_columns_make_one_glyph_and_ambiguous_gaps_none() -> None:
    """An LED dot-matrix character is a few columns of separate dots; the wider gaps part the characters."""
    from digitocr.synth.procedural import DotMatrix

    rng = np.random.default_rng(4)
    for text in ("1234", "5:67", "890", "-4.5"):
        mask = DotMatrix().render(text, 48, 0.0, rng)
        image = np.repeat((255 - mask)[:, :, None], 3, axis=2)
        bank = build_bank([LabelledCrop(f"{text}_dots.png", text, image)])
        assert bank.rejected == [], (text, bank.rejected)
        assert sorted(bank.glyphs) == sorted(set(text))
    ones = np.full((20, 40, 3), 255, np.uint8)
    for left in (4, 10, 26):  # three bare bars, the last one apart: "111", not "11"
        ones[3:17, left:left + 2] = 0
    assert build_bank([LabelledCrop("11_wrong.png", "11", ones), LabelledCrop(
        "1_x.png", "1", np.pad(np.zeros((10, 3, 3), np.uint8), ((5, 5), (5, 5), (0, 0)), constant_values=255))
    ]).rejected[0].name == "11_wrong.png"
    evenly = np.full((20, 60, 3), 255, np.uint8)
    evenly[5:15, 2:58:6] = 0  # ten bars spaced evenly: no gaps stand out, so no way to make three characters
    assert build_bank([LabelledCrop("123_bars.png", "123", evenly), LabelledCrop(
        "1_x.png", "1", np.pad(np.zeros((10, 3, 3), np.uint8), ((5, 5), (5, 5), (0, 0)), constant_values=255))
    ]).rejected[0].name == "123_bars.png"


def test_save_load_and_render_through_resolve_fonts(font, tmp_path: Path) -> None:
    bank = build_bank(font_crops(font))
    bank.save(tmp_path / "bank")
    loaded = load_bank(tmp_path / "bank")
    assert loaded.chars == bank.chars
    assert loaded.style == bank.style
    [source] = resolve_fonts([f"bank:{tmp_path / 'bank'}"], "0123456789", lambda message: None)
    mask = source.render("2024", 40, 2.0, np.random.default_rng(0))
    assert mask.dtype == np.uint8 and mask.shape[0] == 40 and mask.max() == 255
    assert source.missing("0123456789x") == {"x"}


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "12_a.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="12_a.png"):
        read_labelled_folder(tmp_path)


def test_labels_tsv_is_read(font, tmp_path: Path) -> None:
    crop = font_crops(font)[0]
    Image.fromarray(crop.image).save(tmp_path / "a.png")
    (tmp_path / "labels.tsv").write_text("a.png\t102\n", encoding="utf-8")
    [read] = read_labelled_folder(tmp_path)
    assert (read.name, read.label) == ("a.png", "102")


def test_glyphs_command_writes_a_bank(font, tmp_path: Path, capsys) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    for crop in font_crops(font):
        Image.fromarray(crop.image).save(samples / crop.name)
    Image.fromarray(font_crops(font)[0].image).save(samples / "77_wrong.png")
    assert main(["glyphs", str(samples), "-o", str(tmp_path / "bank")]) == 0
    captured = capsys.readouterr()
    assert "skipped 77_wrong.png" in captured.err
    assert "14 glyphs from 6 crops" in captured.out
    bank = load_bank(tmp_path / "bank")
    assert isinstance(bank, GlyphSource)
    assert len(list((tmp_path / "bank").glob("*.png"))) == 14


def test_a_crops_line_is_its_digits_not_a_commas_tail() -> None:
    """A comma hangs below the digits; were it part of its crop's line, that crop's digits would be drawn
    smaller than other crops' (the bank scales every crop's line to one height)."""
    from glyph_crops import crop_of, regular

    font = regular("roboto-mono")
    rng = np.random.default_rng(0)
    crops = [LabelledCrop(f"{i}.png", text, crop_of(font.render(text, 24, 1.0, rng), (20, 20, 20), (240, 240, 240)))
             for i, text in enumerate(["3,855", "453", "8.5"])]
    bank = build_bank(crops)
    assert bank.rejected == []
    assert len({glyph.line_height for instances in bank.glyphs.values() for glyph in instances}) == 1
    comma, point, five = bank.glyphs[","][0], bank.glyphs["."][0], bank.glyphs["5"][0]
    assert comma.top + comma.mask.shape[0] > five.line_height + 1  # the tail stays below the line
    assert point.top + point.mask.shape[0] <= five.line_height + 1
