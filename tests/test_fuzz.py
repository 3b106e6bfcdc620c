"""Random input never ends in a traceback: image bytes, labels.tsv files, stored configurations and model
folders either work or give a one-line UserError, and nothing outside the folder is touched."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from digit_images import draw_digits, write_folder
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


# Every command of the CLI, with random option values and random files in its folder: each run ends in success
# or in exit 2 with one `digitocr <command>: error:` line, and the folder keeps every file it held (an error
# leaves it exactly as it was). Few examples per command (DIGITOCR_FUZZ_EXAMPLES raises them), so the whole
# pass stays within a minute.
COMMAND_FUZZ = settings(max_examples=int(os.environ.get("DIGITOCR_FUZZ_EXAMPLES", "6")), deadline=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
VALUES = ["0", "-1", "1", "2", "0.5", "1e9", "nan", "inf", "", "abc", "../x", "/abs", "1,2", "0,0,8,8", "5,1",
          "0-3", "int", "decimal:2", "time", "re:[", "otsu", "auto", "65536", "\x7f", "é", "model", "junk",
          "data", "a-file", "a-file/x", "profile.toml", "labels.tsv"]
values = st.sampled_from(VALUES)


def snapshot(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            for path in sorted(root.rglob("*"))}


SANE = {"-k": "5", "-cs": "1", "-f": "24", "-wd": "80", "-b": "1", "-tc": "#333333", "--range": "0-99",
        "--label-length": "1-3", "--charset": "0123456789", "-e": "png", "-im": "L", "--seed": "3", "--threshold": "otsu",
        "-bl": "1", "-m": "2", "--epochs": "2", "--lr": "0.001", "--val-split": "0.3", "--patience": "1",
        "--aug-prob": "0.5", "--epoch-size": "8", "--worst": "3", "--threads": "1", "--grid": "grid.png",
        "--csv": "r.csv", "--region": "0,0,30,20", "--format": "int", "--min-confidence": "0.3",
        "--backend": "torch", "--every": "1", "--fps": "2", "--count": "1", "--duration": "5", "--interval": "1",
        "--tolerance": "8", "--persist": "1", "--jsonl": "out.jsonl", "--invert": "auto", "--resize-height": "24",
        "-o": "picture.png", "--port": "0", "--workers": "1", "--max-batch": "8", "--batch-wait-ms": "2",
        "--timeout": "5", "--max-body": "1MB", "--max-pixels": "1000000", "--max-connections": "4"}


def option_list(flags: list[str], switches: list[str] = ()) -> st.SearchStrategy[list[str]]:
    """A few of `flags`, each with a sensible value or a random one, and some of the value-less `switches`."""
    def value_for(flag: str) -> st.SearchStrategy[tuple[str, str]]:
        return st.tuples(st.just(flag), st.sampled_from([SANE[flag]]) | values if flag in SANE else values)

    pairs = st.lists(st.sampled_from(flags).flatmap(value_for), max_size=3)
    chosen = st.lists(st.sampled_from(list(switches)), max_size=2) if switches else st.just([])
    return st.builds(lambda given, on: [f"{flag}={value}" for flag, value in given] + on, pairs, chosen)


def png_crop(text: str = "12", mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    draw_digits(text).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


random_images = st.one_of(st.binary(max_size=200), st.builds(
    lambda data, cut, flip: bytes(bytearray(data[:cut]) + bytes([flip])),
    st.sampled_from([png_crop(), png_crop("7", "RGBA"), png_crop("45", "P")]), st.integers(0, 400),
    st.integers(0, 255)), st.sampled_from([png_crop(), png_crop("305", "RGBA")]))
random_tsv = st.one_of(st.binary(max_size=120), st.lists(st.tuples(
    st.sampled_from(["12_0.png", "junk_0.png", "../x.png", "/etc/passwd", "", "nope.png", "\ufeff12_0.png"]),
    st.sampled_from(["12", "", "1 2", "x", "\t", "0123456789" * 3])), max_size=3).map(
    lambda rows: "".join(f"{path}\t{label}\n" for path, label in rows).encode()))
maybe_tsv = st.none() | random_tsv  # None: the folder has no labels.tsv (labels from the file names)
random_toml = st.one_of(st.binary(max_size=120), st.builds(
    lambda key, value, region: (f'{key} = {value}\n[regions.{region}]\nbox = [0, 0, 20, 16]\n'
                                f'format = "int"\n').encode(),
    st.sampled_from(["size", "scale_boxes", "model", "name", "range"]),
    st.sampled_from(["[1280, 720]", "true", '"model"', '"x"', "[0, -1]", "nan", "[]", '"../nowhere"']),
    st.sampled_from(["speed", "a b", '"x"'])), st.builds(
    lambda key, value: f'model = "model"\n[regions.r]\nbox = [0, 0, 20, 16]\n{key} = {value}\n'.encode(),
    st.sampled_from(["box", "ratios", "format", "range", "min_confidence", "refine", "max_rate", "monotonic"]),
    st.sampled_from(["[0, 0, 9999, 5]", '["1/2", "0", "1", "1"]', '"decimal:x"', "[5, 1]", "2", "-1",
                     '{ threshold = 300 }', '{ invert = "maybe" }', '"up"', "nan", '"int"'])))


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What every example's folder starts from: a model, labelled crops, a screenshot, a profile."""
    root = tmp_path_factory.mktemp("fuzz-world")
    saved_model(root / "model")
    write_folder(root / "data", ["12", "345", "6", "78", "90", "1"])
    Image.new("L", (64, 32), 255).save(root / "screen.png")
    (root / "profile.toml").write_text('model = "model"\n[regions.r]\nbox = [0, 0, 40, 32]\nformat = "int"\n')
    (root / "a-file").write_text("a file, not a folder")
    return root


def run_fuzzed(world: Path, argv: list[str], files: dict[str, bytes], may_change: tuple[str, ...] = (),
               keeps_finished: bool = False, success: tuple[int, ...] = (0,)) -> None:
    """`digitocr ARGV` in a copy of `world` holding `files`: success, or one error line and nothing touched
    (`keeps_finished`: a command that streams, capture or watch, may keep the outputs it finished;
    `success`: the exit statuses that are answers, not errors)."""
    from digitocr.cli import main

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "work"
        shutil.copytree(world, folder)
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        before = snapshot(folder)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as stopped:
                code = stopped.code
        after = snapshot(folder)
        errors = [line for line in err.getvalue().splitlines()
                  if re.match(rf"digitocr {argv[0]}( [a-z]+)?: error: ", line)]
        assert "Traceback" not in err.getvalue(), err.getvalue()
        if code == 2:
            assert len(errors) == 1, err.getvalue()
            if keeps_finished:
                assert all(after.get(name) == digest for name, digest in before.items()), (argv, errors)
            else:
                assert after == before, (argv, errors)
        else:
            assert code in success and not errors, (argv, err.getvalue())
            changed = [name for name, digest in before.items() if after.get(name) != digest
                       and not name.startswith(may_change)]
            assert not changed, (argv, changed)


@COMMAND_FUZZ
@given(option_list(["-k", "-cs", "-f", "-wd", "-b", "-tc", "--range", "--label-length", "--charset", "-e",
                    "-im", "--seed", "-id", "--config", "--threshold", "-bl", "-m", "--contact-sheet",
                    "--output_dir"], ["--append", "--overwrite", "-rk", "-fi", "-num"]),
       st.sampled_from(["1", "2", "0", "-1", "x"]), random_images, st.binary(max_size=80))
def test_generate_fuzzed(fuzz_world: Path, options: list[str], count: str, image: bytes, config: bytes) -> None:
    run_fuzzed(fuzz_world, ["generate", "-c", count, "--output_dir", "out", *options],
               {"junk/1_a.png": image, "junk/config.json": config}, may_change=("data/labels.tsv",))


@COMMAND_FUZZ
@given(option_list(["--charset", "-o"]), st.lists(values, max_size=2))
def test_fonts_fuzzed(fuzz_world: Path, options: list[str], fonts: list[str]) -> None:
    run_fuzzed(fuzz_world, ["fonts", *options, *fonts], {})


@COMMAND_FUZZ
@given(option_list(["--epochs", "--batch-size", "--lr", "--val-split", "--charset", "--name", "--seed",
                    "--patience", "--aug-prob", "--val", "--epoch-size"], ["--binarize", "--strict"]),
       random_images, maybe_tsv)
def test_train_fuzzed(fuzz_world: Path, options: list[str], image: bytes, tsv: bytes | None) -> None:
    """A step or two of training at most, on crops with a random picture and maybe a random labels.tsv."""
    run_fuzzed(fuzz_world, ["train", "--data", "data", *options, "--steps", "2", "--batch-size", "4",
                            "--workers", "0", "--threads", "1", "--no-progress", "--runs", "runs"],
               {"data/5_odd.png": image, **({} if tsv is None else {"data/labels.tsv": tsv})})


@COMMAND_FUZZ
@given(option_list(["--worst", "--threads", "--grid", "--csv", "--model"], ["--strict", "--json"]),
       random_images, maybe_tsv)
def test_eval_fuzzed(fuzz_world: Path, options: list[str], image: bytes, tsv: bytes | None) -> None:
    run_fuzzed(fuzz_world, ["eval", "--model", "model", "set", *options],
               {"set/12_0.png": png_crop(), "set/34_1.png": image, **({} if tsv is None else {"set/labels.tsv": tsv})})


@COMMAND_FUZZ
@given(option_list(["--region", "--range", "--format", "--min-confidence", "--backend", "--threads", "--profile",
                    "--model"], ["--json"]), random_images)
def test_read_fuzzed(fuzz_world: Path, options: list[str], image: bytes) -> None:
    run_fuzzed(fuzz_world, ["read", "--model", "model", *options, "x.png"], {"x.png": image})


@COMMAND_FUZZ
@given(option_list(["-o"], ["--keep-suspicious"]), st.lists(random_images, min_size=1, max_size=3), maybe_tsv)
def test_glyphs_fuzzed(fuzz_world: Path, options: list[str], images: list[bytes], tsv: bytes | None) -> None:
    files = {f"crops/{label}_{i}.png": image for i, (label, image) in enumerate(zip(["12", "7", "305"], images))}
    files.update({} if tsv is None else {"crops/labels.tsv": tsv})
    run_fuzzed(fuzz_world, ["glyphs", "crops", "-o", "bank", *options], files)


@COMMAND_FUZZ
@given(option_list(["--time-limit", "--charset", "--holdout", "--font", "--seed", "--resume", "--from"],
                   ["--overwrite", "--keep-suspicious"]), random_images)
def test_fit_fuzzed(fuzz_world: Path, options: list[str], image: bytes) -> None:
    """Time limits too short to train: every run ends before training, in an error, with nothing left."""
    run_fuzzed(fuzz_world, ["fit", "data", "-o", "run", *options, "--time-limit", "2"], {"data/8_odd.png": image})


@COMMAND_FUZZ
@given(st.sampled_from(["model.json", "model.safetensors"]), st.integers(0, 5_000), st.binary(min_size=1, max_size=8),
       st.booleans())
def test_export_fuzzed(fuzz_world: Path, name: str, offset: int, junk: bytes, check: bool) -> None:
    """A corrupted model folder: exported (model.onnx and model.json written) or refused untouched."""
    data = bytearray((fuzz_world / "model" / name).read_bytes())
    data[offset % len(data):offset % len(data) + len(junk)] = junk
    run_fuzzed(fuzz_world, ["export", "model", *([] if check else ["--no-check"])], {f"model/{name}": bytes(data)},
               may_change=("model/model.json",))


@COMMAND_FUZZ
@given(option_list(["-o", "--model", "--backend"], ["--no-read"]), random_toml, random_images)
def test_profile_check_fuzzed(fuzz_world: Path, options: list[str], toml: bytes, screen: bytes) -> None:
    run_fuzzed(fuzz_world, ["profile", "check", "p.toml", "shot.png", *options], {"p.toml": toml, "shot.png": screen},
               success=(0, 1))  # 1: a region's reading is not ok (the check's answer)


@COMMAND_FUZZ
@given(option_list(["--port", "--workers", "--threads", "--max-batch", "--batch-wait-ms", "--max-body",
                    "--max-pixels", "--timeout", "--max-connections", "--host", "--backend"]))
def test_serve_options_fuzzed(options: list[str]) -> None:
    """Parsing only (no server): a namespace of sane values, or argparse's exit 2."""
    from digitocr.cli import build_parser

    try:
        args = build_parser("serve").parse_args(["serve", *options])
    except SystemExit as stopped:
        assert stopped.code == 2
    else:
        given = {name: value for name, value in vars(args).items() if value is not None}
        assert 0 <= given.get("port", 0) <= 65535 and given.get("batch_wait_ms", 0) >= 0
        for name in ("workers", "threads", "max_batch", "max_connections", "timeout", "max_pixels"):
            assert given.get(name, 1) > 0, name


@COMMAND_FUZZ
@given(option_list(["--every", "--fps", "--count", "--duration", "--profile", "--interval"], ["--dedupe", "--frames"]),
       st.lists(random_images, min_size=1, max_size=2), random_toml)
def test_capture_from_a_folder_fuzzed(fuzz_world: Path, options: list[str], images: list[bytes], toml: bytes) -> None:
    files = {f"shots/{i}.png": image for i, image in enumerate(images)}
    run_fuzzed(fuzz_world, ["capture", "shots", "-o", "frames", "--count", "2", *options], {**files, "p.toml": toml},
               keeps_finished=True)


@COMMAND_FUZZ
@given(option_list(["--every", "--threads", "--min-confidence", "--tolerance", "--persist", "--jsonl", "--csv",
                    "--model", "--backend"], ["--overwrite"]), st.lists(random_images, min_size=1, max_size=2),
       random_toml)
def test_watch_a_folder_fuzzed(fuzz_world: Path, options: list[str], images: list[bytes], toml: bytes) -> None:
    files = {f"shots/{i}.png": image for i, image in enumerate(images)}
    run_fuzzed(fuzz_world, ["watch", "shots", "--profile", "p.toml", "--quiet", "--count", "2", *options],
               {**files, "p.toml": toml}, keeps_finished=True)


@COMMAND_FUZZ
@given(option_list(["--region", "--threshold", "--invert", "--resize-height", "--only", "--preview"],
                   ["--grayscale", "--no-grayscale", "--overwrite"]), random_images, random_toml, st.booleans())
def test_refine_fuzzed(fuzz_world: Path, options: list[str], image: bytes, toml: bytes, by_profile: bool) -> None:
    where = ["--profile", "p.toml"] if by_profile else ["--region", "0,0,20,16"]
    run_fuzzed(fuzz_world, ["refine", "shot.png", "-o", "refined", *where, *options],
               {"shot.png": image, "p.toml": toml})


@COMMAND_FUZZ
@given(st.sampled_from(["--import", "--export"]), st.sampled_from(["rec_gt.txt", "ls.json", "trdg", "x.bin"]),
       st.sampled_from([[], ["--as", "ppocr"], ["--as", "labelstudio"], ["--as", "trdg"], ["--store", "tsv"]]),
       st.one_of(random_tsv, st.binary(max_size=100), st.just(b'[{"data": {"image": "../12_0.png"}}]')),
       random_images)
def test_label_import_export_fuzzed(fuzz_world: Path, direction: str, name: str, extra: list[str], data: bytes,
                                    image: bytes) -> None:
    """Labels converted from and to other tools' files; the page itself is not opened."""
    files = {"crop_img/12_0.png": image, "trdg/12_0.png": image}
    if direction == "--import" and name != "trdg":
        files[name] = data
    run_fuzzed(fuzz_world, ["label", "data", direction, name, *extra], files, may_change=("data",))
