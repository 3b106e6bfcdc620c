import hashlib

import cv2
import numpy as np
import pytest
from digit_images import draw_digits
from PIL import Image, ImageOps

from digitocr.errors import UserError
from digitocr.preprocess import BACKGROUND, Preprocess


def test_output_is_dark_ink_on_light_at_height_32():
    array = Preprocess()(draw_digits("151"))
    assert array.dtype == np.float32 and array.shape[0] == 32
    assert 0.0 <= array.min() < 0.2 and array.max() > 0.9
    assert np.median(array) > 0.8  # mostly light background


def test_light_on_dark_crops_come_out_like_dark_on_light_ones():
    preprocess = Preprocess()
    normal = preprocess(draw_digits("4561"))
    inverted = preprocess(ImageOps.invert(draw_digits("4561")))
    assert normal.shape == inverted.shape
    assert np.abs(normal - inverted).mean() < 0.02


def test_margins_do_not_change_the_input():
    preprocess = Preprocess()
    tight = draw_digits("38")
    wide = Image.new("L", (tight.width + 60, tight.height + 30), 255)
    wide.paste(tight, (40, 10))
    assert preprocess(tight).shape == preprocess(wide).shape
    assert np.abs(preprocess(tight) - preprocess(wide)).mean() < 0.05


def test_low_contrast_is_stretched_and_binarisation_is_two_valued():
    faint = Image.eval(draw_digits("7"), lambda v: 120 + v // 4)  # ink 120, background 183
    assert Preprocess()(faint).min() < 0.1
    assert set(np.unique(Preprocess(binarize=True)(faint))) <= {0.0, 1.0}


def test_rgb_and_array_inputs_and_uniform_images():
    preprocess = Preprocess()
    rgb = draw_digits("9").convert("RGB")
    assert np.allclose(preprocess(rgb), preprocess(np.asarray(rgb)))
    assert preprocess(Image.new("L", (40, 20), 30)).shape == (32, 64)


def test_zero_width_images_are_a_user_error():
    with pytest.raises(UserError, match="cannot read an image"):
        Preprocess()(np.zeros((10, 0), dtype=np.uint8))


def test_mapping_round_trip_and_unknown_keys():
    preprocess = Preprocess(binarize=True, margin=0.2)
    assert Preprocess.from_mapping(preprocess.to_mapping()) == preprocess
    with pytest.raises(UserError, match="unknown preprocessing"):
        Preprocess.from_mapping({"sharpen": True})


def varied_crops(count: int, seed: int = 0) -> list[np.ndarray]:
    """Anti-aliased strokes of any grey on any grey, with noise: every polarity, contrast and ink amount."""
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        height, width = int(rng.integers(8, 80)), int(rng.integers(8, 200))
        ink, paper = int(rng.integers(0, 256)), int(rng.integers(0, 256))
        crop = np.full((height, width), paper, np.uint8)
        for _ in range(int(rng.integers(0, 6))):
            start = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(crop, start, end, ink, int(rng.integers(1, 4)), cv2.LINE_AA)
        noise = rng.normal(0, rng.uniform(0, 25), crop.shape)
        crops.append(np.clip(crop + noise, 0, 255).astype(np.uint8))
    return crops


@pytest.mark.parametrize(("preprocess", "expected"), [
    (Preprocess(width_step=1), "1bde4ce502604e44dcab198a12361eef7e19921c4f8e2d0383f6c521e0b1f63e"),
    (Preprocess(binarize=True, margin=0.3, width_step=1),
     "09e926a653acab8b68cb7131ba97c6e572fa4d86d1670a342cdd6c064d42b412"),
    (Preprocess(crop_to_ink=False, normalize_polarity=False, width_step=1),
     "95edec9ccf83529700259ad0206f22b67dbd0b7bf8e5b3cd5665192f2e59203a"),
])
def test_output_is_pinned_bit_for_bit(preprocess, expected):
    """Trained models expect exactly these arrays (the digests of the first, all-numpy implementation):
    a faster preprocessing must give the same bits."""
    digest = hashlib.sha256()
    for crop in varied_crops(300):
        array = preprocess(crop)
        digest.update(np.asarray(array.shape).tobytes())
        digest.update(array.tobytes())
    assert digest.hexdigest() == expected


def test_width_is_padded_with_background_to_the_width_step():
    for crop in varied_crops(100, seed=3):
        exact, stepped = Preprocess(width_step=1)(crop), Preprocess()(crop)
        assert stepped.shape[1] % 4 == 0 and 0 <= stepped.shape[1] - exact.shape[1] < 4
        assert np.array_equal(stepped[:, :exact.shape[1]], exact) and (stepped[:, exact.shape[1]:] == BACKGROUND).all()
    with pytest.raises(UserError, match="width_step"):
        Preprocess(width_step=0)
