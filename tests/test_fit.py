"""`fit`: bad input is reported clearly; a few crops of an unseen face give a model that reads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from glyph_crops import TEXTS, crop_of, font_crops
from PIL import Image, ImageFilter
from real_data import REAL

from digitocr.cli import main
from digitocr.errors import UserError
from digitocr.fit import SCRATCH, fit
from digitocr.reader import Reader
from digitocr.synth.fonts import heldout_fonts


def write_crops(folder: Path, crops) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for crop in crops:
        Image.fromarray(crop.image).save(folder / crop.name)
    return folder


def styled_crop(font, text: str, rng: np.random.Generator) -> np.ndarray:
    """A distinctive display: green light-on-dark, soft, at about 12 px, with uneven margins."""
    mask = font.render(text, 26, float(rng.uniform(0, 1.5)), rng)
    pixels = crop_of(mask, (80, 255, 120), (10, 40, 20), pad=int(rng.integers(3, 8)))
    return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(0.6)))


def test_label_outside_the_charset_is_named(tmp_path: Path) -> None:
    font = heldout_fonts()[0]
    crops = font_crops(font)
    crops[0] = type(crops[0])("1a2_x.png", "1a2", crops[0].image)
    with pytest.raises(UserError, match="1a2_x.png"):
        fit(write_crops(tmp_path / "s", crops), tmp_path / "run", time_limit=60)


def test_too_few_usable_crops_says_how_many_more(tmp_path: Path) -> None:
    crops = font_crops(heldout_fonts()[0])[:1]
    with pytest.raises(UserError, match="add at least 1 more"):
        fit(write_crops(tmp_path / "s", crops), tmp_path / "run", time_limit=60)


def test_character_with_neither_sample_nor_font(tmp_path: Path) -> None:
    samples = write_crops(tmp_path / "s", font_crops(heldout_fonts()[0]))
    with pytest.raises(UserError, match="no sample and no font for '\u2603'"):
        fit(samples, tmp_path / "run", time_limit=60, charset="0123456789\u2603")


@pytest.mark.slow
def test_fit_on_six_crops_of_a_heldout_font_reads_it(tmp_path: Path) -> None:
    font = next(f for f in heldout_fonts() if f.name == "titillium-web")
    rng = np.random.default_rng(3)
    samples, holdout = tmp_path / "samples", tmp_path / "holdout"
    samples.mkdir()
    holdout.mkdir()
    for i, text in enumerate(TEXTS):
        Image.fromarray(styled_crop(font, text, rng)).save(samples / f"{text}_{i}.png")
    for i in range(100):
        text = str(int(rng.integers(0, 10 ** int(rng.integers(1, 5)))))
        Image.fromarray(styled_crop(font, text, rng)).save(holdout / f"{text}_{i}.png")
    result = fit(samples, tmp_path / "run", time_limit=60, holdout=holdout, start=SCRATCH)
    assert result.word_accuracy >= 0.99, result.evaluations
    assert result.report_path.is_file()
    assert (result.model_dir / "model.safetensors").is_file()


def test_fit_from_the_general_model_reads_the_games_raw_crops_and_screenshot(tmp_path: Path, capsys) -> None:
    """By default fit starts from the general model, which misreads the game's raw 151 (its flagged 1 as a 7);
    15 s of fitting on the refined crops mends it, keeps the general model's network, and rehearses its kind of
    screens as it goes. The model then reads both readouts of the real screenshot."""
    if not (REAL / "seed-refined").is_dir():
        pytest.skip(f"{REAL} is absent")
    from digitocr.fit import REHEARSAL
    from digitocr.pretrained import default_model_dir

    run = tmp_path / "run"
    assert main(["fit", str(REAL / "seed-refined"), "-o", str(run), "--holdout", str(REAL / "seed-raw")]) == 0
    out = capsys.readouterr().out
    assert "Word Accuracy: 1.00" in out
    summary = json.loads((run / "fit.json").read_text())
    assert summary["time_limit"] == 15  # the default from the general model (how long it takes: bench_general.py)
    assert summary["started_from"] == str(default_model_dir())
    assert REHEARSAL in summary["generator"]
    model = json.loads((run / "best" / "model.json").read_text())
    assert model["architecture"] == json.loads((default_model_dir() / "model.json").read_text())["architecture"]
    regions = json.loads((REAL / "seed-screens" / "regions.json").read_text())
    reader = Reader(run / "best")
    screenshot = Image.open(REAL / "seed-screens" / regions["image"])
    for region in regions["regions"].values():
        assert reader.read(screenshot, tuple(region["box"])).text == region["label"]


@pytest.mark.slow
def test_train_resume_continues_a_fit(tmp_path: Path, capsys) -> None:
    """A fit's training (stopped by its time limit) resumes with `digitocr train --resume`, from the data
    specification the run keeps: the bank's streams, the matched fonts and the real crops."""
    samples = write_crops(tmp_path / "samples", font_crops(heldout_fonts()[0]))
    run = tmp_path / "runs" / "fitted"
    fit(samples, run, time_limit=40, start=SCRATCH)
    steps = json.loads((run / "fit.json").read_text(encoding="utf-8"))["steps"]
    capsys.readouterr()
    assert main(["train", "--resume", "--runs", str(run.parent), "--name", run.name, "--steps", str(steps + 3),
                 "--time-limit", "120", "--workers", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"stopped by steps after {steps + 3} steps" in out
    assert (run / "crops" / "labels.tsv").is_file() and (run / "last" / "model.json").is_file()


def test_a_missing_holdout_folder_fails_before_any_work(tmp_path: Path) -> None:
    samples = write_crops(tmp_path / "s", font_crops(heldout_fonts()[0]))
    with pytest.raises(UserError, match="no holdout folder"):
        fit(samples, tmp_path / "run", time_limit=60, holdout=tmp_path / "absent")
    assert not (tmp_path / "run").exists()


def test_an_unknown_start_is_named(tmp_path: Path) -> None:
    samples = write_crops(tmp_path / "s", font_crops(heldout_fonts()[0]))
    with pytest.raises(UserError, match="a fit starts from 'general', 'scratch' or a model.*'genral'"):
        fit(samples, tmp_path / "run", start="genral")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("time_limit", [float("nan"), -5.0, 2.0])
def test_a_time_limit_too_short_to_train_fails_before_any_work(tmp_path: Path, time_limit: float) -> None:
    samples = write_crops(tmp_path / "s", font_crops(heldout_fonts()[0]))
    with pytest.raises(UserError, match="leaves no time to train"):
        fit(samples, tmp_path / "run", time_limit=time_limit)
    assert not (tmp_path / "run").exists()
