"""The generator: every option does what it claims; labels and determinism (writing datasets: test_writer)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitocr.errors import UserError
from digitocr.synth.generate import (
    GeneratorConfig,
    TextImageGenerator,
    parse_generator_args,
)

ONE_FONT = ["-ft", "roboto-mono"]
CLEAN = [*ONE_FONT, "-b", "1", "-tc", "#000000"]  # black text on plain white: ink is easy to find


def parse(flags: str) -> GeneratorConfig:
    return parse_generator_args(flags.split())


def generator(flags: str, *extra: str) -> TextImageGenerator:
    return TextImageGenerator(parse_generator_args([*flags.split(), *extra]))


def samples(flags: str, count: int = 12, *extra: str) -> list[tuple[np.ndarray, str]]:
    source = generator(flags, "--seed", "3", *extra)
    return [(np.asarray(image), label) for image, label in (source.sample_at(i) for i in range(count))]


def ink(pixels: np.ndarray) -> np.ndarray:
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    return gray < 128


def text_angle(pixels: np.ndarray) -> float:
    """Counter-clockwise angle in degrees of the ink's principal axis."""
    ys, xs = np.nonzero(ink(pixels))
    coords = np.stack([xs - xs.mean(), ys - ys.mean()])
    values, vectors = np.linalg.eigh(np.cov(coords))
    vx, vy = vectors[:, np.argmax(values)]
    angle = math.degrees(math.atan2(-vy, vx))
    return (angle + 90) % 180 - 90


# ------------------------------------------------------------------ options


@pytest.mark.parametrize(("skew", "expected"), [("0", 0.0), ("15", 15.0), ("345", -15.0), ("-8", -8.0)])
def test_skew_rotates_by_the_angle(skew: str, expected: float) -> None:
    flags = f"--charset 0 --label-length 10 -f 64 -m 2 -fi -k {skew} " + " ".join(CLEAN)
    for pixels, _ in samples(flags, 3):
        assert text_angle(pixels) == pytest.approx(expected, abs=1.5)


def test_random_skew_stays_within_the_angle() -> None:
    config = parse_generator_args(["-k", "15", "-rk"])
    assert config.skew == (-15.0, 15.0)
    angles = [text_angle(p) for p, _ in samples("--charset 0 --label-length 10 -f 64 -m 2 -fi -k 15 -rk "
                                                + " ".join(CLEAN), 12)]
    assert max(abs(a) for a in angles) <= 16.5 and np.std(angles) > 3


@pytest.mark.parametrize("alignment", ["0", "1", "2", "random"])
def test_fixed_width_is_exact_whatever_the_label(alignment: str) -> None:
    for pixels, _ in samples(f"--label-length 1-9 -fi -wd 100 -al {alignment} " + " ".join(CLEAN), 12):
        assert pixels.shape[1] == 100


def test_alignment_places_text_left_center_or_right() -> None:
    def ink_span(alignment: str) -> tuple[int, int]:
        pixels, _ = samples(f"--charset 1 --label-length 1 -fi -wd 200 -al {alignment} " + " ".join(CLEAN), 1)[0]
        columns = np.flatnonzero(ink(pixels).any(axis=0))
        return int(columns[0]), int(columns[-1])

    assert ink_span("0")[0] <= 7
    assert ink_span("2")[1] >= 192
    left, right = ink_span("1")
    assert abs((left + right) / 2 - 100) <= 3


def test_spacing_widens_the_gaps_between_glyphs() -> None:
    narrow = samples("--charset 1 --label-length 3 -fi -cs 0 " + " ".join(CLEAN), 4)
    wide = samples("--charset 1 --label-length 3 -fi -cs 6 " + " ".join(CLEAN), 4)
    negative = samples("--charset 1 --label-length 3 -fi -cs -2 " + " ".join(CLEAN), 4)
    for (a, _), (b, _), (c, _) in zip(narrow, wide, negative):
        assert b.shape[1] >= a.shape[1] + 10 > c.shape[1] + 10


@pytest.mark.parametrize("threshold", ["otsu", "128", "170-200"])
def test_threshold_gives_a_two_valued_image(threshold: str) -> None:
    values = [set(np.unique(pixels)) for pixels, _ in samples(f"-bl 1 --threshold {threshold} -im L", 6)]
    assert all(value <= {0, 255} for value in values) and set().union(*values) == {0, 255}


@pytest.mark.parametrize(("mode", "ndim"), [("L", 2), ("RGB", 3)])
def test_image_mode(mode: str, ndim: int) -> None:
    image, _ = generator(f"-im {mode}").sample(np.random.default_rng(0))
    assert image.mode == mode and np.asarray(image).ndim == ndim


def test_colours_and_polarity() -> None:
    red_on_blue = samples("-b 1 --background-color #0000c0 -tc #ff0000 -fi -f 48 -im RGB " + " ".join(ONE_FONT), 3)
    for pixels, _ in red_on_blue:
        corner = pixels[0, 0].astype(int)
        assert corner[2] > 150 and corner[0] < 40
        assert pixels[:, :, 0].max() > 200  # red ink somewhere
    for pixels, _ in samples("--light-on-dark " + " ".join(CLEAN), 3):
        assert pixels[0, 0].max() < 40 and pixels.max() > 200
    for pixels, _ in samples("--invert " + " ".join(CLEAN), 3):
        assert pixels[0, 0].max() < 40


def test_seed_refinement_light_on_dark_inverted_and_thresholded_is_dark_on_white() -> None:
    for pixels, _ in samples("--light-on-dark --invert --threshold 180 -im L " + " ".join(CLEAN), 3):
        assert set(np.unique(pixels)) == {0, 255} and pixels[0, 0] == 255


def test_blur_softens_edges_and_random_blur_varies() -> None:
    sharp = samples("-fi -im L " + " ".join(CLEAN), 4)
    blurred = samples("-fi -im L -bl 2 " + " ".join(CLEAN), 4)
    for (a, _), (b, _) in zip(sharp, blurred):
        assert np.abs(np.diff(b.astype(int), axis=1)).max() < np.abs(np.diff(a.astype(int), axis=1)).max()
    assert parse_generator_args(["-bl", "3", "-rbl"]).blur == (0.0, 3.0)


def test_jpeg_degradation_changes_pixels() -> None:
    clean = samples("-fi -im L -b 1", 3)
    degraded = samples("-fi -im L -b 1 --jpeg-quality 5-10", 3)
    for (a, _), (b, _) in zip(clean, degraded):
        assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).mean() > 1


def test_scale_jitter_shrinks_the_text() -> None:
    for pixels, _ in samples("-f 64 -m 0 -fi --scale-jitter 0.5 " + " ".join(CLEAN), 4):
        rows = np.flatnonzero(ink(pixels).any(axis=1))
        assert rows[-1] - rows[0] + 1 == pytest.approx(32, abs=3)


def test_padding_adds_space_left_and_right() -> None:
    plain = samples("-fi " + " ".join(CLEAN), 6)
    padded = samples("-fi --padding 1 " + " ".join(CLEAN), 6)
    for (a, _), (b, _) in zip(plain, padded):
        assert b.shape[1] - a.shape[1] in (63, 64, 65)


def test_stretch_widens_the_text() -> None:
    plain = samples("--label-length 4 -fi " + " ".join(CLEAN), 3)
    stretched = samples("--label-length 4 -fi --stretch 1.5 " + " ".join(CLEAN), 3)
    for (a, _), (b, _) in zip(plain, stretched):
        assert (b.shape[1] - 10) == pytest.approx(1.5 * (a.shape[1] - 10), abs=3)


def test_subpixel_offset_moves_the_text_by_less_than_a_pixel() -> None:
    for (a, _), (b, _) in zip(samples("-fi -m 8 " + " ".join(CLEAN), 4),
                              samples("-fi -m 8 --subpixel-offset 0.5 " + " ".join(CLEAN), 4)):
        assert not np.array_equal(a, b)
        shift = [np.average(np.nonzero(255 - p[:, :, 0])[axis], weights=(255 - p[:, :, 0])[np.nonzero(255 - p[:, :, 0])])
                 for p in (a, b) for axis in (0, 1)]
        assert abs(shift[0] - shift[2]) < 1 and abs(shift[1] - shift[3]) < 1


@pytest.mark.parametrize("distortion", ["1", "2", "3"])
@pytest.mark.parametrize("orientation", ["0", "1", "2"])
def test_distortions_change_the_text(distortion: str, orientation: str) -> None:
    straight = samples("--label-length 4 -fi -f 40 " + " ".join(CLEAN), 2)
    bent = samples(f"--label-length 4 -fi -f 40 -d {distortion} -do {orientation} " + " ".join(CLEAN), 2)
    for (a, _), (b, _) in zip(straight, bent):
        assert b.shape[0] == 40 and (a.shape != b.shape or not np.array_equal(a, b))


def test_backgrounds(tmp_path: Path) -> None:
    noise = samples("-b 0 -im L", 2)
    assert all(pixels[:3].std() > 3 for pixels, _ in noise)
    assert all(np.unique(pixels[:2]).tolist() == [255] for pixels, _ in samples("-b 1 -im L -m 3", 2))
    assert all(pixels.std() > 10 for pixels, _ in samples("-b 2 -im L", 2))
    folder = tmp_path / "backgrounds"
    folder.mkdir()
    picture = np.zeros((50, 80, 3), np.uint8)
    picture[:, :, 1] = 200  # green in BGR order
    cv2.imwrite(str(folder / "green.png"), picture)
    for pixels, _ in samples(f"-b 3 -id {folder} -im RGB", 2):
        assert tuple(pixels[0, 0]) == (0, 200, 0)
    with pytest.raises(UserError, match="image-dir"):
        parse_generator_args(["-b", "3"])


def test_text_colour_range_varies_the_ink() -> None:
    colours = {tuple(pixels[ink(pixels) if ink(pixels).any() else slice(None)].min(axis=0))
               for pixels, _ in samples("-fi -f 48 -tc #000000,#606060 -b 1 -im RGB " + " ".join(ONE_FONT), 8)}
    assert len(colours) > 4


# ------------------------------------------------------------------ labels


def test_random_labels_follow_charset_length_and_words() -> None:
    labels = [label for _, label in samples("--charset 01 --label-length 2-3 -w 2", 30)]
    for label in labels:
        words = label.split(" ")
        assert len(words) == 2 and all(2 <= len(w) <= 3 and set(w) <= set("01") for w in words)
    variable = {len(label.split(" ")) for _, label in samples("-w 3 -r", 30)}
    assert variable == {1, 2, 3}
    digits = [label for _, label in samples("-rs -num", 50)]
    assert all(label.isdigit() and 1 <= len(label) <= 4 for label in digits)
    assert {len(label) for label in digits} == {1, 2, 3, 4}


def test_number_range_and_strings_file(tmp_path: Path) -> None:
    numbers = [int(label) for _, label in samples("--range 0-260", 40)]
    assert all(0 <= n <= 260 for n in numbers) and len(set(numbers)) > 20
    strings = tmp_path / "speeds.txt"
    strings.write_text("151\n\n 88 \n7\n")
    labels = [label for _, label in samples(f"-i {strings}", 6)]
    assert labels == ["151", "88", "7", "151", "88", "7"]


def test_letters_and_symbols_pools() -> None:
    assert parse_generator_args(["-rs", "-let"]).charset.isalpha()
    assert set(parse_generator_args(["-num", "-sym"]).charset) > set("0123456789%")


# ------------------------------------------------------------------ config, determinism, datasets


def test_config_mapping_round_trip_and_file(tmp_path: Path) -> None:
    config = parse("-rs -num -k 15 -rk -bl 2 -rbl -d 3 -do 2 -wd 100 -al 0 -m 1,2,3,4 "
                                  "--threshold otsu --jpeg-quality 30-90 -tc #000,#888")
    assert GeneratorConfig.from_mapping(config.to_mapping()) == config
    assert config.distortion == "random" and config.distortion_orientation == "both"
    assert config.alignment == "left" and config.margins == (1, 2, 3, 4) and config.width == 100
    toml = tmp_path / "style.toml"
    toml.write_text('height = 48\nskew = [-3, 3]\nthreshold = "otsu"\nfonts = ["orbitron"]\n')
    from_file = parse_generator_args(["--config", str(toml), "-f", "40"])
    assert (from_file.height, from_file.skew, from_file.threshold, from_file.fonts) == (
        40, (-3.0, 3.0), "otsu", ("orbitron",))
    with pytest.raises(UserError, match="unknown generator option"):
        GeneratorConfig.from_mapping({"colour": "red"})


@pytest.mark.parametrize("flags", [
    "--charset=", "--label-length 0-3", "--label-length 4-2", "-bl -1", "-f 4", "-m 20", "-d 7",
    "--threshold 300", "--jpeg-quality 0", "--invert 2", "-im CMYK", "-wd 5", "--range 9-1", "-tc nocolour",
])
def test_bad_options_raise_one_line_user_errors(flags: str) -> None:
    with pytest.raises(UserError) as error:
        parse_generator_args(flags.split())
    assert "\n" not in str(error.value)


def test_sample_at_is_deterministic() -> None:
    first, second = generator("-rk -k 10 -bl 1 -rbl -d 3 --seed 9"), generator("-rk -k 10 -bl 1 -rbl -d 3 --seed 9")
    for index in (0, 5, 1234):
        a, b = first.sample_at(index), second.sample_at(index)
        assert a[1] == b[1] and np.array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert [label for _, (_, label) in zip(range(3), first)] == [first.sample_at(i)[1] for i in range(3)]
