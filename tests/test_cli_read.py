"""`digitocr read`, `export` and `profile check` as a user runs them."""

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from digit_images import draw_digits
from model_folders import saved_model
from PIL import Image

from digitocr.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "model"
    saved_model(folder)
    return folder


def test_export_then_read_json_with_checks(model_dir, tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    assert main(["export", str(folder)]) == 0
    assert (folder / "model.onnx").is_file() and json.loads((folder / "model.json").read_text())["onnx"]
    draw_digits("151").save(tmp_path / "151.png")
    capsys.readouterr()
    assert main(["read", "--model", str(folder), "--backend", "onnx", "--format", "int", "--range", "0,400",
                 "--json", str(tmp_path / "151.png")]) == 0
    [reading] = json.loads(capsys.readouterr().out)
    assert reading["image"] == str(tmp_path / "151.png")
    assert {"text", "value", "confidence", "char_confidences", "alternative", "status", "reason"} <= set(reading)
    with pytest.raises(SystemExit) as stopped:  # checked where it is parsed (argparse's exit 2)
        main(["read", "--model", str(folder), "--range", "0", str(tmp_path / "151.png")])
    assert stopped.value.code == 2 and "argument --range: expected LOW,HIGH" in capsys.readouterr().err
    assert main(["read", "--model", str(folder), "--format", "time", str(tmp_path / "151.png")]) == 2
    assert "format 'time' needs ':'" in capsys.readouterr().err


def test_profile_check_draws_the_regions_and_reads_them(model_dir, tmp_path, capsys):
    frame = np.full((80, 200, 3), 30, np.uint8)
    frame[10:42, 20:20 + 50] = np.asarray(draw_digits("42", light_on_dark=True).resize((50, 32)))[:, :, None]
    Image.fromarray(frame).save(tmp_path / "screen.png")
    profile = tmp_path / "screen.toml"
    profile.write_text(f'model = "{model_dir}"\n[regions.gear]\nbox = [20, 10, 70, 42]\nformat = "int"\n'
                       '[regions.lap]\nratios = ["100/200", "0.5", "1", "1"]\n')
    code = main(["profile", "check", str(profile), str(tmp_path / "screen.png"), "-o", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert code in (0, 1) and out.startswith("gear: ") and "\nlap: " in out
    picture = Image.open(tmp_path / "c.png")
    assert picture.width > 200 and picture.height >= 80
    assert main(["profile", "check", str(profile), str(tmp_path / "screen.png"), "--no-read"]) == 0
    assert "gear: (no model)" in capsys.readouterr().out
    profile.write_text('[regions.gear]\nbox = [20, 10, 700, 42]\n')
    assert main(["profile", "check", str(profile), str(tmp_path / "screen.png"), "--no-read"]) == 2
    assert f"{profile}: region 'gear': box [20, 10, 700, 42] is not inside" in capsys.readouterr().err


def test_model_option_overrides_every_region_of_a_profile(model_dir, tmp_path, capsys):
    frame = np.full((40, 120, 3), 30, np.uint8)
    frame[4:36, 10:60] = np.asarray(draw_digits("42", light_on_dark=True).resize((50, 32)))[:, :, None]
    Image.fromarray(frame).save(tmp_path / "screen.png")
    profile = tmp_path / "screen.toml"  # models that do not exist: --model must replace both
    profile.write_text('model = "missing"\n[regions.gear]\nbox = [10, 4, 60, 36]\n'
                       '[regions.lap]\nbox = [10, 4, 60, 36]\nmodel = "also-missing"\n')
    assert main(["read", "--profile", str(profile), str(tmp_path / "screen.png")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["read", "--profile", str(profile), "--model", str(model_dir), str(tmp_path / "screen.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0].rsplit(":", 1)[1] for line in lines] == ["gear", "lap"]
    assert main(["profile", "check", str(profile), str(tmp_path / "screen.png"), "--model", str(model_dir)]) in (0, 1)


def test_a_reading_install_does_not_pull_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.startswith(("torch", "onnx>", "onnx "))]
    assert any(dep.startswith("onnxruntime") for dep in project["dependencies"])
    assert any(dep.startswith("torch") for dep in project["optional-dependencies"]["train"])
