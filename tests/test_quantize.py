"""The 8-bit graph (`digitocr export --int8`): reproducible, read as model.onnx reads, refused when it is not,
and never taken for a graph it was not made from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from digit_images import draw_digits

from digitocr import quantize
from digitocr.charset import Charset
from digitocr.cli.options import READER_BACKENDS
from digitocr.errors import UserError
from digitocr.export import export_onnx
from digitocr.modelio import save_model
from digitocr.models import build_model
from digitocr.preprocess import Preprocess
from digitocr.pretrained import MODEL_DIR
from digitocr.quantize import INT8_FILE, export_int8
from digitocr.reader import BACKENDS, Reader


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped general model (a trained network: what 8 bits may disturb) with its 8-bit graph."""
    folder = tmp_path_factory.mktemp("int8") / "general"
    shutil.copytree(MODEL_DIR, folder)
    export_int8(folder)
    return folder


@pytest.fixture
def general_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "general"
    shutil.copytree(MODEL_DIR, folder)
    return folder


def test_export_is_reproducible_and_records_the_agreement(int8_model: Path, general_copy: Path) -> None:
    export_int8(general_copy)
    assert (general_copy / INT8_FILE).read_bytes() == (int8_model / INT8_FILE).read_bytes()
    entry = json.loads((general_copy / "model.json").read_text())["onnx"]["int8"]
    assert entry["file"] == INT8_FILE and quantize.MIN_AGREEMENT <= entry["agreement"] <= 1


def test_the_first_convolution_stays_in_floats_and_the_others_in_8_bits(int8_model: Path) -> None:
    # the first convolution (one input channel) and its ReLU in floats; from the second convolution to the last,
    # each ReLU is folded into its convolution's output range: no float round trip between convolutions
    import onnx

    nodes = onnx.load(str(int8_model / INT8_FILE)).graph.node
    kinds = [node.op_type for node in nodes]
    assert kinds.count("Conv") == 1 and kinds.count("Relu") == 1
    assert kinds.index("Conv") < kinds.index("Relu") < kinds.index("QuantizeLinear") < kinds.index("QLinearConv")
    convolutions = [i for i, kind in enumerate(kinds) if kind == "QLinearConv"]
    assert len(convolutions) >= 4
    assert kinds[convolutions[0]:convolutions[-1] + 1] == ["QLinearConv"] * len(convolutions)


def test_the_8_bit_graph_reads_as_the_float_graph_without_torch(int8_model: Path) -> None:
    rng = np.random.default_rng(5)
    crops = [draw_digits(str(int(rng.integers(0, 10 ** int(rng.integers(1, 7))))), light_on_dark=bool(i % 2))
             for i in range(60)]
    int8, float32 = Reader(int8_model, backend="onnx-int8"), Reader(int8_model)
    assert int8.backend == "onnx-int8" and float32.backend == "onnx"  # auto keeps the float graph
    texts = [(a.text, b.text) for a, b in zip(int8.read_batch(crops), float32.read_batch(crops))]
    assert sum(a == b for a, b in texts) >= 58, texts
    program = ("import sys, numpy as np\nfrom digitocr import Reader\n"
               f"reading = Reader({str(int8_model)!r}, backend='onnx-int8').read(np.full((32, 60), 255, np.uint8))\n"
               "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False"


def test_a_crop_reads_the_same_alone_and_in_any_batch_in_8_bits(int8_model: Path) -> None:
    # the convolutions' ranges are fixed in the graph: nothing depends on the other crops of a call
    rng = np.random.default_rng(2)
    crops = [draw_digits(str(int(rng.integers(0, 10 ** int(rng.integers(1, 6))))), light_on_dark=bool(i % 3 == 0))
             for i in range(40)]
    crops += [crops[3]] * 17
    reader = Reader(int8_model, backend="onnx-int8", batch_size=8, threads=2)
    for a, b in zip([reader.read(crop) for crop in crops], reader.read_batch(crops)):
        assert a.text == b.text and a.status == b.status
        assert a.confidence == pytest.approx(b.confidence, rel=0, abs=1e-6)


def test_a_graph_that_reads_differently_is_refused(general_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta_before = (general_copy / "model.json").read_text()
    monkeypatch.setattr(quantize, "MIN_AGREEMENT", 1.01)
    with pytest.raises(UserError, match=r"8-bit weights change .* of readings.*read with model.onnx"):
        export_int8(general_copy)
    assert not (general_copy / INT8_FILE).exists() and (general_copy / "model.json").read_text() == meta_before
    with pytest.raises(UserError, match=r"no 8-bit graph: run `digitocr export --int8"):
        Reader(general_copy, backend="onnx-int8")


def test_a_new_float_export_forgets_the_old_8_bit_graph(int8_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(int8_model, copy)
    export_onnx(copy)  # as after training again: the 8-bit graph is of other weights now
    assert (copy / INT8_FILE).exists()
    with pytest.raises(UserError, match="no 8-bit graph"):
        Reader(copy, backend="onnx-int8")


def test_an_untrained_network_exports_to_8_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its batch norms fold into equal (zero) biases, which the exporter shares through Identity operators;
    the quantizer finds a bias only as a weight of its own, so the export gives each its copy back."""
    monkeypatch.setattr(quantize, "CALIBRATION_CROPS", 8)
    monkeypatch.setattr(quantize, "CHECK_CROPS", 8)
    charset = Charset()
    save_model(tmp_path / "fresh", build_model("conv", charset.num_classes).eval(),
               {"charset": charset.chars, "preprocess": Preprocess().to_mapping()})
    graph = onnx.load(str(export_onnx(tmp_path / "fresh")))
    assert "Identity" not in {node.op_type for node in graph.graph.node}
    assert export_int8(tmp_path / "fresh").is_file()
    assert isinstance(Reader(tmp_path / "fresh", backend="onnx-int8").read(draw_digits("42")).text, str)


def test_the_command_line_offers_every_backend() -> None:
    assert READER_BACKENDS == BACKENDS
