"""Rendering and effect helpers: distortion, placement, colours, thresholding, range parsing."""

from __future__ import annotations

import numpy as np
import pytest

from digitocr.errors import UserError
from digitocr.synth.augment import binarize, jpeg_degrade, to_uint8
from digitocr.synth.options import normalise_angle, parse_range
from digitocr.synth.render import Layout, composite, distort, parse_color, text_extent, warp_into


def bar_mask() -> np.ndarray:
    mask = np.zeros((16, 40), np.uint8)
    mask[4:12, 2:38] = 255
    return mask


@pytest.mark.parametrize(("kind", "vertical", "horizontal", "grow"), [
    ("sine", True, False, (8, 0)), ("cosine", False, True, (0, 8)), ("random", True, True, (8, 8)),
])
def test_distortion_shifts_rows_or_columns_and_keeps_the_ink(kind: str, vertical: bool, horizontal: bool,
                                                             grow: tuple[int, int]) -> None:
    mask = bar_mask()
    bent = distort(mask, kind, vertical, horizontal, np.random.default_rng(0))
    assert bent.shape == (mask.shape[0] + grow[0], mask.shape[1] + grow[1])  # max offset sqrt(16) = 4
    assert np.count_nonzero(bent) == np.count_nonzero(mask)
    assert distort(mask, "none", True, True, np.random.default_rng(0)) is mask


def test_text_extent_of_a_rotated_box() -> None:
    assert text_extent(10, 4, 0) == pytest.approx((10, 4))
    assert text_extent(10, 4, 90) == pytest.approx((4, 10))


def test_warp_places_the_mask_in_its_box() -> None:
    layout = Layout(canvas_width=60, canvas_height=20, x=10, y=2, text_width=40, text_height=16, scale=1.0)
    placed = warp_into(bar_mask(), layout, angle=0.0, stretch=1.0)
    assert placed.shape == (20, 60)
    columns = np.flatnonzero(placed.any(axis=0))
    rows = np.flatnonzero(placed.any(axis=1))
    assert (columns[0], columns[-1], rows[0], rows[-1]) == (12, 47, 6, 13)


def test_composite_mixes_ink_by_coverage() -> None:
    background = np.full((1, 3, 1), 200, np.float32)
    coverage = np.array([[0, 255, 128]], np.uint8)
    mixed = composite(background, coverage, np.array([0.0], np.float32))
    assert to_uint8(mixed).tolist() == [[200, 0, 100]]


def test_colours() -> None:
    assert parse_color("#ff8000") == (255, 128, 0)
    assert parse_color("#000") == (0, 0, 0)
    assert parse_color("128") == (128, 128, 128)
    assert parse_color("white") == (255, 255, 255)
    with pytest.raises(UserError):
        parse_color("nope")


def test_binarize_fixed_and_otsu() -> None:
    gray = np.array([[10, 100, 180, 250]], np.uint8)
    assert binarize(gray, 150).tolist() == [[0, 0, 255, 255]]
    assert set(np.unique(binarize(gray, None))) <= {0, 255}
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    assert binarize(rgb, 150).shape == rgb.shape


def test_jpeg_round_trip_keeps_shape_and_channel_order() -> None:
    red = np.zeros((16, 16, 3), np.uint8)
    red[:, :, 0] = 255
    out = jpeg_degrade(red, 50)
    assert out.shape == red.shape and out[8, 8, 0] > 200 and out[8, 8, 2] < 50
    assert jpeg_degrade(red[:, :, 0], 50).ndim == 2


def test_ranges_and_angles() -> None:
    assert parse_range("0-260", "range", integer=True) == (0, 260)
    assert parse_range("-15:15", "skew") == (-15.0, 15.0)
    assert parse_range("-2", "spacing") == (-2.0, -2.0)
    assert parse_range([1, 2], "x") == (1.0, 2.0)
    with pytest.raises(UserError):
        parse_range("1.5", "length", integer=True)
    with pytest.raises(UserError):
        parse_range("a-b", "x")
    assert normalise_angle(345) == -15 and normalise_angle(15) == 15 and normalise_angle(-30) == -30
