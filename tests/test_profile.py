"""Profiles: TOML in, regions out; every mistake is one line naming the file and the region."""

from pathlib import Path

import numpy as np
import pytest

from digitocr.errors import UserError
from digitocr.profile import Refine, crop_regions, load_profile

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed-game.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "screen.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_profile_loads_with_ratios_and_pixel_boxes():
    profile = load_profile(EXAMPLE)
    assert set(profile.regions) == {"speed", "rpm"} and profile.frame_size == (1942, 1042)
    speed, rpm = profile.regions["speed"], profile.regions["rpm"]
    assert speed.units == "ratios" and speed.pixel_box(1942, 1042, profile) == (126, 320, 178, 342)
    assert speed.pixel_box(971, 521, profile) == (63, 160, 89, 171)  # ratios scale with the frame
    assert rpm.units == "pixels" and rpm.pixel_box(1942, 1042, profile) == (1758, 245, 1822, 266)
    assert speed.format == "int" and speed.value_range == (0, 400)
    assert Path(profile.model).is_absolute() and Path(profile.model).parts[-3:] == ("runs", "seed", "best")


def test_fractions_decimals_refine_and_watch_options(tmp_path):
    profile = load_profile(write(tmp_path, """
name = "dash"
model = "models/dash"
[regions.lap]
ratios = ["81/1280", 0.3055, "125/1280", "236/720"]
format = "time:m:ss.fff"
min_confidence = 0.8
max_rate = 1.5
monotonic = "increasing"
model = "/abs/lap"
refine = { grayscale = true, invert = "auto", threshold = "otsu", resize_height = 32 }
"""))
    lap = profile.regions["lap"]
    assert lap.box[0] == pytest.approx(81 / 1280) and lap.box[1] == pytest.approx(0.3055)
    assert lap.refine == Refine(True, "auto", "otsu", 32) and lap.monotonic == "increasing" and lap.max_rate == 1.5
    assert lap.model == "/abs/lap" and profile.model == str(tmp_path / "models" / "dash")
    assert profile.name == "dash" and profile.frame_size is None


@pytest.mark.parametrize(("region", "message"), [
    ('box = [10, 10, 5, 20]', "region 'speed': the box .* is empty"),
    ('ratios = ["81/0", 0, 1, 1]', "region 'speed': a box corner must be a number or a fraction"),
    ('ratios = [0.1, 0.1, 1.5, 0.2]', "region 'speed': ratios are fractions of the frame between 0 and 1"),
    ('box = [0, 0, 10, 10]\nratios = [0, 0, 1, 1]', "region 'speed': give either box"),
    ('box = [0, 0, 10, 10]\nformat = "float"', "region 'speed': unknown format 'float'"),
    ('box = [0, 0, 10, 10]\nrange = [5, 1]', "region 'speed': range .* has low > high"),
    ('box = [0, 0, 10, 10]\nmin_confidence = 2', "region 'speed': min_confidence is between 0 and 1"),
    ('box = [0, 0, 10, 10]\nmonotonic = "up"', "region 'speed': monotonic is one of"),
    ('box = [0, 0, 10, 10]\nrefine = { invert = "maybe" }', "region 'speed': refine: invert is one of"),
    ('box = [0, 0, 10, 10]\nrefine = { threshold = 300 }', "region 'speed': refine: threshold is 'otsu'"),
    ('box = [0, 0, 10, 10]\nbox_size = 3', "region 'speed': unknown key.*box_size"),
    ('box = [0, 0, 2000, 10]', "region 'speed': box .* is not inside the 1280x720 frame"),
])
def test_bad_regions_name_the_file_and_the_region(tmp_path, region, message):
    path = write(tmp_path, f"size = [1280, 720]\n[regions.speed]\n{region}\n")
    with pytest.raises(UserError, match=message) as caught:
        load_profile(path)
    assert str(caught.value).startswith(str(path))


def test_bad_files(tmp_path):
    with pytest.raises(UserError, match="cannot read profile"):
        load_profile(tmp_path / "absent.toml")
    with pytest.raises(UserError, match="not valid TOML"):
        load_profile(write(tmp_path, "size = [1280,"))
    with pytest.raises(UserError, match="no regions"):
        load_profile(write(tmp_path, 'name = "x"\n'))
    with pytest.raises(UserError, match="unknown key.*regoins"):
        load_profile(write(tmp_path, '[regoins.speed]\nbox = [0, 0, 1, 1]\n'))


def test_pixel_boxes_on_another_frame_size_need_scale_boxes(tmp_path):
    profile = load_profile(write(tmp_path, "size = [200, 100]\n[regions.speed]\nbox = [10, 10, 50, 30]\n"))
    assert crop_regions(np.zeros((100, 200), np.uint8), profile)["speed"].shape == (20, 40)
    with pytest.raises(UserError, match=r"region 'speed': the frame is 400x200 .* scale_boxes = true"):
        crop_regions(np.zeros((200, 400), np.uint8), profile)
    scaled = load_profile(write(tmp_path, "size = [200, 100]\nscale_boxes = true\n[regions.speed]\n"
                                          "box = [10, 10, 50, 30]\n"))
    assert crop_regions(np.zeros((200, 400, 3), np.uint8), scaled)["speed"].shape == (40, 80, 3)
    sizeless = load_profile(write(tmp_path, "[regions.speed]\nbox = [10, 10, 50, 30]\n"))
    with pytest.raises(UserError, match=r"region 'speed': box \[10, 10, 50, 30\] is not inside the 40x20 frame"):
        crop_regions(np.zeros((20, 40), np.uint8), sizeless)


def test_refine_does_what_the_seed_did_by_hand():
    crop = np.full((20, 40, 3), (10, 20, 60), np.uint8)  # dark-blue gauge
    crop[5:15, 10:30] = 250  # white digits
    refined = Refine(grayscale=True, invert="auto", threshold=185).apply(crop)
    assert refined.shape == (20, 40) and set(np.unique(refined)) == {0, 255}
    assert refined[10, 20] == 0 and refined[0, 0] == 255  # black digits on white
    assert Refine(invert="auto", threshold="otsu").apply(refined)[0, 0] == 255  # already light: kept
    assert Refine(grayscale=False).apply(crop).shape == (20, 40, 3)
    assert Refine(resize_height=40).apply(crop).shape == (40, 80)
    assert Refine(invert="yes").apply(crop[..., 0])[0, 0] == 245
