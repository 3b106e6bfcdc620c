"""`model.int8.onnx`: the exported graph with 8-bit convolutions, for reading faster on CPUs.

The convolutions, most of a crop's arithmetic, are quantized statically: the ranges of their activations are
measured once, on synthetic crops of the model's own characters (calibration), and fixed in the graph. Their
ReLUs are quantized with them, so the quantizer folds each one into its convolution's output range and the
activations stay in 8 bits from the second convolution to the last (a float ReLU between two of them costs a
dequantize and a quantize, about a tenth of the network's time, and spends 8-bit levels on negatives). The
first convolution stays in floats: on one input channel, its 9 products per output are too few for 8-bit
arithmetic to pay, and it runs faster in floats (a tenth of `conv`'s network), on the crop as it comes. So does
a BiLSTM (`tiny`'s, `strided`'s): ONNX Runtime quantizes an LSTM only dynamically, with ranges taken per call,
and then a crop would read differently alone and in a batch. Unlike model.onnx, whose readings equal torch's, 8
bits change a few readings; so the quantized graph is checked against the float graph on other synthetic crops,
and refused when they agree too rarely. Both operands are unsigned 8-bit: signed weights can overflow on CPUs
without VNNI instructions.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitocr.charset import Charset
from digitocr.errors import UserError
from digitocr.files import write_atomically, write_text_atomically
from digitocr.formats import decode_best_paths
from digitocr.preprocess import Preprocess
from digitocr.reader import read_onnx_entry

INT8_FILE = "model.int8.onnx"
CALIBRATION_CROPS = 256  # crops whose activations set the convolutions' ranges
CHECK_CROPS = 512  # other crops, read by both graphs
MIN_AGREEMENT = 0.98  # share of the check crops that both graphs must read alike


def synthetic_crops(charset: str, preprocess: Preprocess, count: int, seed: int) -> list[np.ndarray]:
    """`count` preprocessed crops of random strings of `charset` in the default fonts, either polarity,
    slightly blurred and rotated: what any model reads, whichever display it was fitted to."""
    from digitocr.synth.generate import TextImageGenerator, parse_generator_args

    generator = TextImageGenerator(parse_generator_args(
        ["--charset", charset, "--label-length", "1-6", "--light-on-dark", "0.5", "-bl", "1", "-rbl",
         "-k", "2", "-rk", "--seed", str(seed)]))
    return [preprocess(np.asarray(generator.sample_at(index)[0])) for index in range(count)]


def export_int8(folder: Path | str) -> Path:
    """Write model.int8.onnx beside model.onnx (made by `digitocr export`) and record it, with the share of
    check crops it reads as model.onnx does, in model.json's `onnx` entry; returns the file's path."""
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    folder = Path(folder)
    meta: dict[str, Any] = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    entry = read_onnx_entry(folder, meta)
    charset, preprocess = Charset(meta["charset"]), Preprocess.from_mapping(meta["preprocess"])
    calibration = synthetic_crops(charset.chars, preprocess, CALIBRATION_CROPS, seed=1)

    class Crops(CalibrationDataReader):  # one crop per call: crops differ in width
        def __init__(self) -> None:
            self._crops = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            crop = next(self._crops, None)
            return None if crop is None else {"images": crop[None, None]}

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer warns on the root logger of things that concern other models
    try:
        with tempfile.TemporaryDirectory(prefix="digitocr-int8-") as scratch:
            quantized = Path(scratch) / INT8_FILE
            quantize_static(folder / entry["file"], quantized, Crops(), quant_format=QuantFormat.QOperator,
                            op_types_to_quantize=["Conv", "Relu"], nodes_to_exclude=_first_layer(folder / entry["file"]),
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
            data = quantized.read_bytes()
    finally:
        root.setLevel(level)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    graphs = [onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
              for graph in (str(folder / entry["file"]), data)]
    agreement = reading_agreement(graphs, charset, synthetic_crops(charset.chars, preprocess, CHECK_CROPS, seed=2))
    if agreement < MIN_AGREEMENT:
        raise UserError(f"{folder}: 8-bit weights change {1 - agreement:.1%} of readings on synthetic crops "
                        f"(at most {1 - MIN_AGREEMENT:.0%} allowed); read with model.onnx")
    write_atomically(folder / INT8_FILE, data)
    entry["int8"] = {"file": INT8_FILE, "agreement": round(agreement, 4), "checked_crops": CHECK_CROPS}
    meta["onnx"] = entry
    write_text_atomically(folder / "model.json", json.dumps(meta, indent=2) + "\n")
    return folder / INT8_FILE


def _first_layer(graph_file: Path) -> list[str]:
    """The names of the graph's first convolution and the ReLU after it (left in floats)."""
    import onnx

    nodes = onnx.load(str(graph_file)).graph.node
    first = next(node for node in nodes if node.op_type == "Conv")
    return [first.name, *(node.name for node in nodes if node.op_type == "Relu" and first.output[0] in node.input)]


def reading_agreement(graphs: Sequence[Any], charset: Charset, crops: Sequence[np.ndarray]) -> float:
    """The share of crops that two ONNX Runtime sessions read as the same text (best path)."""
    same = 0
    for crop in crops:
        outputs = [graph.run(None, {"images": crop[None, None]})[0] for graph in graphs]
        texts = {decode_best_paths(log_probs, np.array([len(log_probs)]), charset)[0].text for log_probs in outputs}
        same += len(texts) == 1
    return same / len(crops)
