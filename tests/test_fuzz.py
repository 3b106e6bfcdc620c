"""Random input never ends in a traceback: image bytes, labels.tsv files, stored configurations and model
folders either work or give a one-line UserError, and nothing outside the folder is touched."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_folders import saved_model
from PIL import Image

from digitocr.errors import UserError
from digitocr.images import open_image
from digitocr.labels import read_labels_tsv
from digitocr.modelio import load_model
from digitocr.train_config import TrainConfig

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def png(width: int, height: int, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@FAST
@given(st.one_of(
    st.binary(max_size=300),
    st.builds(lambda data, cut, flip: bytearray(data[:cut]) + bytes([flip]),
              st.sampled_from([png(7, 5, "RGBA"), png(3, 9, "L"), png(4, 4, "P"), png(6, 2, "I;16")]),
              st.integers(0, 120), st.integers(0, 255)),
))
def test_random_image_bytes_decode_or_are_a_user_error(data: bytes) -> None:
    try:
        pixels = open_image(bytes(data), name="fuzz.png")
    except UserError as error:
        assert "fuzz.png" in str(error) and "\n" not in str(error)
    else:
        assert pixels.dtype == np.uint8 and pixels.ndim in (2, 3) and min(pixels.shape[:2]) > 0


@FAST
@given(st.binary(max_size=200))
def test_random_labels_tsv_reads_inside_its_folder_or_is_a_user_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(folder) / "sub" / "labels.tsv"
        manifest.parent.mkdir()
        manifest.write_bytes(data)
        try:
            entries = read_labels_tsv(manifest)
        except UserError as error:
            assert "\n" not in str(error)
        else:
            for path, _ in entries:
                assert path.resolve().is_relative_to(manifest.parent.resolve())


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)


@FAST
@given(st.dictionaries(st.sampled_from(["run_dir", "architecture", "batch_size", "lr", "preprocess", "augment",
                                        "data", "epochs", "grad_clip", "colour"]), json_values, max_size=5))
def test_random_stored_configurations_load_or_are_a_user_error(mapping: dict) -> None:
    try:
        config = TrainConfig.from_mapping({"run_dir": "r", **mapping})
    except UserError as error:
        assert "\n" not in str(error)
    else:
        assert TrainConfig.from_mapping(json.loads(json.dumps(config.to_mapping()))) == config


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "m"
    saved_model(folder)
    return folder


@FAST
@given(st.sampled_from(["model.json", "model.safetensors"]), st.integers(0, 10_000), st.binary(min_size=1, max_size=8))
def test_corrupted_model_folders_load_or_are_a_user_error(model_folder: Path, name: str, offset: int,
                                                          junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "m"
        folder.mkdir()
        for file in model_folder.iterdir():
            (folder / file.name).write_bytes(file.read_bytes())
        data = bytearray((folder / name).read_bytes())
        position = offset % len(data)
        data[position:position + len(junk)] = junk
        (folder / name).write_bytes(bytes(data))
        try:
            load_model(folder)
        except UserError as error:
            assert "\n" not in str(error)


option_values = st.sampled_from(["0", "-1", "1", "2.5", "1e9", "nan", "inf", "", "abc", "../x", "0-3", "1,2",
                                 "-5--2", "#fff", "otsu", "999999"])
TRAIN_OPTIONS = ["--epochs", "--steps", "--time-limit", "--epoch-size", "--batch-size", "--lr", "--val-split",
                 "--val-size", "--patience", "--aug-prob", "--aug-rotate", "--warmup", "--grad-clip", "--seed",
                 "--threads", "--workers", "--charset", "--name", "--arch", "--monitor", "--curriculum"]
GENERATE_OPTIONS = ["-k", "-bl", "-cs", "-f", "-m", "-wd", "-al", "-b", "-d", "-do", "-tc", "--range",
                    "--label-length", "--threshold", "--jpeg-quality", "--scale-jitter", "--stretch", "--padding",
                    "--light-on-dark", "--invert", "-w", "--seed", "-na", "-e", "-im", "--charset"]


@FAST
@given(st.lists(st.tuples(st.sampled_from(TRAIN_OPTIONS), option_values), max_size=4))
def test_random_train_options_give_a_config_or_one_clear_error(options: list[tuple[str, str]]) -> None:
    """Parsing and checking only (no training): argparse's exit 2, a UserError, or a valid configuration."""
    from digitocr.cli import build_parser
    from digitocr.cli.train import _config

    argv = ["train", "--synth", "", *(f"{flag}={value}" for flag, value in options)]
    try:
        config = _config(build_parser("train").parse_args(argv))
    except SystemExit as stopped:
        assert stopped.code == 2
    except UserError as error:
        assert "\n" not in str(error)
    else:
        assert config.batch_size > 0 and config.epochs > 0 and 0 < config.data.val_fraction < 1
        assert config.run_dir.parent == Path("runs")


@FAST
@given(st.lists(st.tuples(st.sampled_from(GENERATE_OPTIONS), option_values), max_size=4))
def test_random_generator_options_give_a_config_or_one_clear_error(options: list[tuple[str, str]]) -> None:
    from digitocr.synth.flags import parse_generator_args

    try:
        parse_generator_args([f"{flag}={value}" for flag, value in options])
    except UserError as error:
        assert "\n" not in str(error)
