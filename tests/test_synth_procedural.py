"""Procedural glyph sources: seven/fourteen-segment, dot-matrix, pixel digits, squared digits."""

from __future__ import annotations

import copy
import pickle

import cv2
import numpy as np
import pytest

from digitocr.synth.fonts import GlyphSource, resolve_fonts
from digitocr.synth.generate import GeneratorConfig, TextImageGenerator, parse_generator_args
from digitocr.synth.procedural import (
    FONT_3X5,
    FONT_5X7,
    SEVEN,
    SQUARED,
    SUPPORTED,
    font_designs,
    led_design,
    procedural_sources,
    squared_on_grid,
)

NAMES = ["seg7", "seg14", "dotmatrix", "pixel"]  # `-ft procedural`


@pytest.mark.parametrize("name", [*NAMES, "dotfonts", "squared"])
def test_each_source_draws_every_supported_character(name: str) -> None:
    (source,) = procedural_sources(name)
    assert isinstance(source, GlyphSource)
    assert source.missing(SUPPORTED) == set()
    assert source.missing("0a") == {"a"}
    rng = np.random.default_rng(0)
    for char in SUPPORTED:
        mask = source.render(char, 32, 0.0, rng)
        assert mask.dtype == np.uint8 and mask.max() == 255, char
        assert 28 <= mask.shape[0] <= 40


@pytest.mark.parametrize("name", [*NAMES, "dotfonts", "squared"])
def test_digits_are_told_apart_and_rendering_is_seeded(name: str) -> None:
    (source,) = procedural_sources(name)
    masks = {digit: source.render(digit, 40, 0.0, np.random.default_rng(3)) for digit in "0123456789"}
    shapes = {digit: (mask.shape, mask.tobytes()) for digit, mask in masks.items()}
    assert len(set(shapes.values())) == 10
    again = source.render("0123", 40, 0.0, np.random.default_rng(3))
    assert np.array_equal(again, source.render("0123", 40, 0.0, np.random.default_rng(3)))


def test_longer_text_is_wider_and_spacing_widens_it() -> None:
    (source,) = procedural_sources("seg7")
    one = source.render("8", 32, 0.0, np.random.default_rng(1))
    four = source.render("8888", 32, 0.0, np.random.default_rng(1))
    spaced = source.render("8888", 32, 6.0, np.random.default_rng(1))
    assert four.shape[1] > 3 * one.shape[1]
    assert spaced.shape[1] >= four.shape[1] + 17


def test_unlit_segments_show_faintly_on_some_renderings() -> None:
    (source,) = procedural_sources("seg7")
    rng = np.random.default_rng(0)
    faint = [mask for mask in (source.render("1", 32, 0.0, rng) for _ in range(40))
             if ((mask > 10) & (mask < 90)).sum() > 30]
    assert faint, "no rendering showed unlit segments"


def test_bitmap_fonts_and_segment_maps_are_well_formed() -> None:
    assert all(bitmap.shape == (7, 5) for bitmap in FONT_5X7.values())
    assert all(bitmap.shape == (5, 3) for bitmap in FONT_3X5.values())
    assert set(FONT_5X7) == set(FONT_3X5) == set(SUPPORTED)
    assert SEVEN["8"] == "abcdefg"


def test_led_designs_come_from_the_training_fonts_and_stay_legible() -> None:
    designs = font_designs()
    assert len(designs) >= 30  # the general families installed with digitocr[fonts], minus faces 5x7 cannot hold
    digit_sets = {b"".join(design[digit].tobytes() for digit in "0123456789") for design in designs}
    assert len(digit_sets) == len(designs)
    assert b"".join(FONT_5X7[digit].tobytes() for digit in "0123456789") not in digit_sets
    for design in designs:
        assert set(design) == set(SUPPORTED) and all(bitmap.shape == (7, 5) for bitmap in design.values())
        assert len({design[digit].tobytes() for digit in "0123456789"}) == 10
        assert design["."] is FONT_5X7["."]  # punctuation stays the HD44780's
    threes = {design["3"][0].tobytes() for design in designs}  # the top row of the 3: round and flat tops
    assert len(threes) >= 3
    (source,) = procedural_sources("dotfonts")
    renderings = {source.render("3", 40, 0.0, np.random.default_rng(seed)).tobytes() for seed in range(12)}
    assert len(renderings) >= 6  # a design per rendering, not one for the whole source


def test_squared_designs_are_told_apart_whichever_a_face_picks() -> None:
    assert set(SQUARED) | set(".:,") == set(SUPPORTED)
    grids = {(digit, index): squared_on_grid(strokes) for digit in "0123456789"
             for index, strokes in enumerate(SQUARED[digit])}
    for (digit, index), grid in grids.items():  # one piece on the LED grid, and no design of another digit
        assert cv2.connectedComponents(grid.astype(np.uint8), connectivity=8)[0] == 2, (digit, index)
        assert all(other[0] == digit or not np.array_equal(grid, other_grid)
                   for other, other_grid in grids.items()), (digit, index)
    assert len(SQUARED["1"]) >= 3 and len(SQUARED["4"]) >= 2 and len(SQUARED["7"]) >= 2
    (source,) = procedural_sources("squared")
    ones = {source.render("1", 40, 0.0, np.random.default_rng(seed)).tobytes() for seed in range(16)}
    assert len(ones) >= 8  # the design, weight and width change per rendering
    flagged = squared_on_grid(SQUARED["1"][1])
    assert flagged[0, 1] and not flagged[1:, 1].any()  # a flag at the top left, not a 7's diagonal
    hooked = [squared_on_grid(strokes) for strokes in SQUARED["1"] if strokes[0][0] == (0, 0) and len(strokes[0]) > 3]
    assert hooked and all(grid[0, 0] and not grid[0, 2] and grid[1:, 2].all() for grid in hooked)  # the game's 1:
    # a hook whose tip stands above the stem's top


def test_led_designs_mix_font_designs_and_squared_ones() -> None:
    open_four = squared_on_grid(SQUARED["4"][0])
    assert not open_four[0, 1:4].any()  # open at the top
    fours = [led_design(np.random.default_rng(seed))["4"].tobytes() for seed in range(60)]
    assert open_four.tobytes() in fours
    font_fours = {design["4"].tobytes() for design in font_designs()}
    assert 25 <= sum(four in font_fours for four in fours) < 60


def test_pixel_digits_are_whole_pixels() -> None:
    (source,) = procedural_sources("pixel")
    mask = source.render("0123", 48, 0.0, np.random.default_rng(0))
    assert set(np.unique(mask)) <= {0, 255}


def test_specs_resolve_like_fonts_and_sources_pickle() -> None:
    sources = resolve_fonts(["procedural", "seg7"], "0123456789.-", lambda message: None)
    assert [source.name for source in sources] == NAMES  # repeats are dropped
    assert pickle.dumps(sources)  # spawned batch workers receive them pickled
    assert copy.deepcopy(sources) == sources  # rebuilt through the same reduce protocol, nothing unpickled
    assert procedural_sources("roboto") is None


def test_generator_draws_with_procedural_sources() -> None:
    config = parse_generator_args(["-ft", "seg7", "-ft", "dotmatrix", "--charset", "0123456789.:-",
                                   "--seed", "5"])
    generator = TextImageGenerator(config)
    assert [font.name for font in generator.fonts] == ["seg7", "dotmatrix"]
    image, label = generator.sample_at(0)
    assert image.height == 32 and label
    fitted = TextImageGenerator(GeneratorConfig(fonts=("pixel",), fit=True, seed=1))
    assert fitted.sample_at(0)[0].height == 32
