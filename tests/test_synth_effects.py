"""Screen effects: parsing, each effect's result, and their use through the generator."""

from __future__ import annotations

import numpy as np
import pytest

from digitocr.errors import UserError
from digitocr.synth import effects
from digitocr.synth.effects import ALL_PROBABILITIES, Effects, parse_effects
from digitocr.synth.generate import GeneratorConfig, TextImageGenerator, parse_generator_args


def bar_coverage(height: int = 32, width: int = 60) -> np.ndarray:
    coverage = np.zeros((height, width), np.uint8)
    coverage[8:24, 20:26] = 255
    return coverage


def test_parse_names_probabilities_all_and_mappings() -> None:
    assert parse_effects("glow=0.3, scanlines") == Effects(glow=0.3, scanlines=0.5)
    assert parse_effects("all") == Effects(**ALL_PROBABILITIES)
    assert parse_effects({"motion": 1}) == Effects(motion=1.0)
    assert not parse_effects("").active
    for bad in ("sparkle=0.2", "glow=2", "glow=x"):
        with pytest.raises(UserError):
            parse_effects(bad)


def test_glow_spreads_ink_around_the_stroke_and_keeps_the_core() -> None:
    alpha = bar_coverage().astype(np.float32) / 255
    glowing = effects.glow(alpha, np.random.default_rng(0))
    assert glowing[16, 18] > 0.05 and alpha[16, 18] == 0
    assert glowing[16, 22] == pytest.approx(1.0)


def test_color_pairs_cover_both_polarities_with_contrast() -> None:
    rng = np.random.default_rng(0)
    pairs = [effects.color_pair(rng) for _ in range(200)]
    lumas = [(effects._luma(ink), effects._luma(ground)) for ink, ground in pairs]
    assert all(abs(ink - ground) >= 70 for ink, ground in lumas)
    light_on_dark = sum(ink > ground for ink, ground in lumas)
    assert 50 < light_on_dark < 150
    assert any(np.ptp(ink) > 100 for ink, _ in pairs)  # saturated colours, not only grays


def test_backgrounds_vary_across_the_picture() -> None:
    rng = np.random.default_rng(1)
    ground = np.array([40, 60, 80], np.float32)
    ramp = effects.gradient((20, 50), ground, rng)
    assert ramp.shape == (20, 50, 3) and np.ptp(ramp) > 5
    textured = effects.texture(np.broadcast_to(ground, (20, 50, 3)).copy(), rng)
    assert textured.std() > 1


def test_scanlines_darken_every_few_rows_and_subpixel_fringes_color_edges() -> None:
    picture = np.full((12, 10, 3), 200, np.float32)
    lined = effects.scanlines(picture, np.random.default_rng(2))
    darker = lined[:, 0, 0] < 200
    assert 3 <= darker.sum() <= 6
    fringed = effects.subpixel(bar_coverage().astype(np.float32) / 255, np.random.default_rng(0))
    assert fringed.shape == (32, 60, 3)
    assert not np.allclose(fringed[:, :, 0], fringed[:, :, 2])


def test_motion_blur_and_downscale_keep_the_shape_and_soften() -> None:
    picture = np.repeat(bar_coverage()[:, :, None].astype(np.float32), 3, axis=2)
    for effect in (effects.motion_blur, effects.downscale):
        result = effect(picture, np.random.default_rng(4))
        assert result.shape == picture.shape
    blurred = effects.motion_blur(picture, np.random.default_rng(4))
    assert blurred[16, 19].max() > 0


def test_generator_option_applies_effects_reproducibly_in_both_modes() -> None:
    config = parse_generator_args(["--effects", "all", "--seed", "9", "-ft", "seg7"])
    assert config.effects == "all"
    first = TextImageGenerator(config)
    again = TextImageGenerator(config)
    for index in range(20):
        assert np.array_equal(np.asarray(first.sample_at(index)[0]), np.asarray(again.sample_at(index)[0]))
    colourful = [np.asarray(first.sample_at(index)[0]) for index in range(20)]
    assert any(np.ptp(image.astype(int)[:, :, 0] - image[:, :, 2]) > 40 for image in colourful)
    gray = TextImageGenerator(GeneratorConfig(effects="colors=1,scanlines=1", image_mode="L", seed=1))
    assert np.asarray(gray.sample_at(0)[0]).ndim == 2
    round_trip = GeneratorConfig.from_mapping({"effects": {"glow": 0.5}})
    assert parse_effects(round_trip.effects) == Effects(glow=0.5)
    assert GeneratorConfig.from_mapping(round_trip.to_mapping()) == round_trip
    with pytest.raises(UserError):
        GeneratorConfig(effects="sparkle")


def test_slant_leans_upright_text_right_and_leaves_other_samples_as_they_were() -> None:
    """Fonts draw upright, racing HUDs in italics: a slanted sample's ink leans right (its top sits further
    right than its bottom). A config without slant draws no random number for it, so its samples stay the same."""
    bar = np.zeros((40, 10), np.uint8)
    bar[:, 3:7] = 255
    leaning = Effects(slant=1.0).slanted(bar, np.random.default_rng(0))
    columns = [np.flatnonzero(leaning[row] >= 128).mean() for row in (2, 37)]
    assert leaning.shape[0] == 40 and leaning.shape[1] > 10
    assert columns[0] - columns[1] >= 0.08 * 35
    assert Effects(glow=1.0).slanted(bar, np.random.default_rng(0)) is bar
    rng, untouched = np.random.default_rng(3), np.random.default_rng(3)
    Effects(glow=1.0).slanted(bar, rng)
    assert rng.random() == untouched.random()
    italic = TextImageGenerator(GeneratorConfig(effects="slant=1", fonts=("roboto-mono",), seed=2, fit=True,
                                                length=(4, 4), charset="1"))
    upright = TextImageGenerator(GeneratorConfig(fonts=("roboto-mono",), seed=2, fit=True, length=(4, 4), charset="1"))
    assert italic.sample_at(0)[1] == upright.sample_at(0)[1] == "1111"
    assert italic.sample_at(0)[0].width > upright.sample_at(0)[0].width
