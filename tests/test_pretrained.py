"""The shipped general model: present, intact, used when no model is named, and a clear error when broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from digitocr.errors import UserError
from digitocr.pretrained import CHECKSUMS_FILE, FILES, MODEL_DIR, check_model_dir, default_model_dir


def test_the_package_ships_an_intact_model_under_3_mb() -> None:
    assert default_model_dir() == MODEL_DIR
    assert sum((MODEL_DIR / name).stat().st_size for name in FILES) < 3_000_000


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "general"
    shutil.copytree(MODEL_DIR, folder)
    return folder


@pytest.mark.parametrize("name", [*FILES, CHECKSUMS_FILE])
def test_a_missing_file_is_named_with_how_to_reinstall(shipped_copy: Path, name: str) -> None:
    (shipped_copy / name).unlink()
    with pytest.raises(UserError, match=rf"{name} is missing.*reinstall"):
        check_model_dir(shipped_copy)


def test_a_damaged_file_is_named(shipped_copy: Path) -> None:
    weights = shipped_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(UserError, match=r"model.safetensors does not match its checksum.*reinstall"):
        check_model_dir(shipped_copy)


def test_reader_without_a_model_reads_with_the_shipped_one() -> None:
    from digitocr.reader import Reader
    from digitocr.synth.generate import GeneratorConfig, TextImageGenerator

    reader = Reader()
    assert reader.model_dir.resolve() == MODEL_DIR.resolve()
    generator = TextImageGenerator(GeneratorConfig(fonts=("roboto-mono",), background="plain", height=40,
                                                   strings_file=None, number_range=(100, 99999), seed=3))
    samples = [generator.sample_at(index) for index in range(10)]
    readings = reader.read_batch([np.asarray(image) for image, _ in samples])
    assert sum(reading.text == label for reading, (_, label) in zip(readings, samples)) >= 9


def test_the_shipped_graph_is_the_export_of_the_shipped_weights(shipped_copy: Path) -> None:
    # without the slice that trims a crop's width to the time stride: the reader pads every crop to it already
    import onnx

    from digitocr.export import export_onnx

    (shipped_copy / "model.onnx").unlink()
    export_onnx(shipped_copy)  # which checks the graph against the torch model
    assert (shipped_copy / "model.onnx").read_bytes() == (MODEL_DIR / "model.onnx").read_bytes()
    operators = {node.op_type for node in onnx.load(str(MODEL_DIR / "model.onnx")).graph.node}
    assert not operators & {"Slice", "Shape", "Gather"}
