"""`digitocr refine`: the seed's ratios and threshold on the real screenshot give a crop a fitted model reads;
bad inputs are skipped and listed; nothing is replaced unasked."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from digit_images import draw_digits
from real_data import SCREENS, SEED_RATIOS

from digitocr.cli import main
from digitocr.errors import UserError
from digitocr.images import open_image


def screenshot(path: Path, text: str = "151") -> Path:
    """A 1280x720 dark-blue screen with light digits in the box the seed's ratios point at."""
    import cv2
    from PIL import Image

    frame = np.full((720, 1280, 3), (20, 30, 60), np.uint8)
    digits = cv2.resize(np.asarray(draw_digits(text, light_on_dark=True)), (44, 16),
                        interpolation=cv2.INTER_AREA)
    frame[220:236, 81:125] = np.maximum(frame[220:236, 81:125], digits[..., None])
    Image.fromarray(frame).save(path)
    return path


@pytest.mark.slow
def test_seed_ratios_and_threshold_turn_the_real_screenshot_into_a_crop_read_as_151(tmp_path: Path,
                                                                                   seed_fit: Path) -> None:
    from digitocr.reader import Reader

    regions = json.loads((SCREENS / "regions.json").read_text())
    truth = regions["regions"]["speed"]
    reader = Reader(seed_fit / "best")
    for threshold in (170, 185, 200):  # the seed's range: any of them works
        out = tmp_path / f"crops-{threshold}"
        assert main(["refine", str(SCREENS / regions["image"]), "-o", str(out), "--region", SEED_RATIOS,
                     "--invert", "yes", "--threshold", str(threshold)]) == 0
        crop = open_image(out / "test.png")
        assert set(np.unique(crop)) <= {0, 255} and crop.mean() > 128  # dark digits on white, as the seed
        assert reader.read(crop).text == truth["label"], threshold

    # The ratio box holds the true box of regions.json, and a profile gives the very same crop.
    width, height = regions["size"]
    x0, y0, x1, y1 = truth["box"]
    left, top, right, bottom = (float(Fraction(part)) for part in SEED_RATIOS.split(","))
    assert left * width <= x0 + 3 and top * height <= y0 + 3
    assert right * width >= x1 - 3 and bottom * height >= y1 - 3
    profile = tmp_path / "game.toml"
    profile.write_text('[regions.speed]\nratios = ["81/1280", "220/720", "125/1280", "236/720"]\n'
                       'refine = { invert = "yes", threshold = 185 }\n')
    assert main(["refine", str(SCREENS / regions["image"]), "-o", str(tmp_path / "profiled"),
                 "--profile", str(profile), "--preview", str(tmp_path / "preview.png")]) == 0
    assert np.array_equal(open_image(tmp_path / "profiled" / "test.png"),
                          open_image(tmp_path / "crops-185" / "test.png"))
    preview = open_image(tmp_path / "preview.png")
    assert preview.shape[0] >= 64 and preview.shape[1] > 8 * 64  # raw, refined and seven other thresholds


def test_inputs_that_are_not_images_are_skipped_and_listed(tmp_path: Path, capsys) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    screenshot(shots / "a.png")
    screenshot(shots / "b.png", "27")
    (shots / "notes.txt").write_text("x")
    (shots / "broken.png").write_bytes(b"\x89PNG nothing")
    out = tmp_path / "out"
    assert main(["refine", str(shots), "-o", str(out), "--region", SEED_RATIOS, "--threshold", "otsu",
                 "--invert", "auto", "--resize-height", "32"]) == 0
    captured = capsys.readouterr()
    assert "notes.txt: not an image" in captured.err and "broken.png" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    crop = open_image(out / "a.png")
    assert crop.shape[0] == 32 and crop.ndim == 2 and crop[0].mean() > 128  # auto-inverted: light border

    before = (out / "a.png").read_bytes()
    assert main(["refine", str(shots), "-o", str(out), "--region", SEED_RATIOS]) == 2
    assert "exists" in capsys.readouterr().err and (out / "a.png").read_bytes() == before
    assert main(["refine", str(shots), "-o", str(out), "--region", SEED_RATIOS, "--overwrite"]) == 0


def test_profile_regions_go_to_their_own_folders_and_bad_options_are_one_line(tmp_path: Path, capsys) -> None:
    shot = screenshot(tmp_path / "shot.png")
    profile = tmp_path / "screen.toml"
    profile.write_text('size = [1280, 720]\n[regions.speed]\nbox = [81, 220, 125, 236]\n'
                       '[regions.corner]\nratios = [0, 0, 0.1, 0.1]\nrefine = { threshold = "otsu" }\n')
    assert main(["refine", str(shot), "-o", str(tmp_path / "out"), "--profile", str(profile)]) == 0
    assert (tmp_path / "out" / "speed" / "shot.png").is_file()
    assert (tmp_path / "out" / "corner" / "shot.png").is_file()
    only = ["--profile", str(profile), "--only", "speed"]
    assert main(["refine", str(shot), "-o", str(tmp_path / "one"), *only]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["shot.png"]
    for bad, message in ((["--region", "1,2,3"], "x0,y0,x1,y1"), (["--region", "10,10,5,20"], "empty"),
                         (["--region", SEED_RATIOS, "--threshold", "300"], "0-255"),
                         (["--profile", str(profile), "--only", "rpm"], "no region 'rpm'"),
                         (["--region", "1200,700,1300,750"], "not inside")):
        assert main(["refine", str(shot), "-o", str(tmp_path / "bad"), *bad]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(UserError, match="no such file"):
        from digitocr.refine import list_inputs

        list_inputs([tmp_path / "absent.png"])
