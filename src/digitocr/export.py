"""`model.onnx` for a model folder, so reading needs ONNX Runtime only (no torch).

The graph takes (batch, 1, height, width) float32 crops (both batch and width dynamic) and returns the
(time, batch, classes) CTC log-probabilities, as the torch model does for the crops the reader gives it: widths
that are a multiple of the preprocessing's `width_step` (see `_pruned`). model.json gains an
`onnx` entry: the rule that turns a crop's width into its number of time steps, and the SHA-256 of the weights
the graph was made from, so a reader notices a model.onnx left behind by an earlier training.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from digitocr.errors import UserError
from digitocr.files import write_atomically, write_text_atomically
from digitocr.modelio import META_FILE, ONNX_FILE, load_model
from digitocr.models import Recognizer
from digitocr.reader import weights_digest

OPSET = 17


def time_steps_rule(model: Recognizer) -> dict[str, int]:
    """`steps = width // stride + offset`, read off the model's own output_lengths."""
    widths = torch.tensor([400, 800])
    short, long = (int(n) for n in model.output_lengths(widths))
    stride = 400 // (long - short)
    return {"time_stride": stride, "time_offset": short - 400 // stride}


def export_onnx(folder: Path | str, check: bool = True) -> Path:
    """Write `model.onnx` into the model folder and record it in model.json; returns the ONNX file's path.

    With `check`, ONNX Runtime (when installed) runs the graph on two batches and must agree with torch."""
    folder = Path(folder)
    loaded = load_model(folder)
    model = loaded.model.eval()
    height = int(loaded.meta.get("input_height", loaded.preprocess.height))
    example = torch.full((2, 1, height, 64), 1.0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), buffer,  # type: ignore[arg-type]  # (a file object works too)
                          input_names=["images"], output_names=["log_probs"],
                          dynamic_axes={"images": {0: "batch", 3: "width"}, "log_probs": {0: "time", 1: "batch"}},
                          opset_version=OPSET, dynamo=False)
    data = _pruned(buffer.getvalue(), keep_width_trim=loaded.preprocess.width_step % model.time_stride != 0)
    if check:
        _check_against_torch(data, model, height)
    write_atomically(folder / ONNX_FILE, data)
    meta: dict[str, Any] = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    meta["onnx"] = {"file": ONNX_FILE, "weights_sha256": weights_digest(folder), "opset": OPSET,
                    **time_steps_rule(model)}
    write_text_atomically(folder / META_FILE, json.dumps(meta, indent=2) + "\n")
    return folder / ONNX_FILE


def _pruned(data: bytes, keep_width_trim: bool) -> bytes:
    """The exported graph without the operators a reader never needs, checked:

    - those that build the LSTMs' all-zero initial states for each call's batch size (Shape, Gather, Unsqueeze,
      Concat, ConstantOfShape): ONNX's LSTM starts from zeros when given no state;
    - unless `keep_width_trim`, the slice that drops each crop's last width % time_stride columns (`strided` and
      its kind) and the five operators computing its end: the reader pads every crop to a multiple of
      `width_step`, a multiple of the stride then, so the slice never drops a column;
    - the Identity operators the exporter puts in place of a weight equal to another one (an untrained network's
      zero biases): each becomes that weight's own copy again, as in a trained network, where the 8-bit
      quantizer looks for every bias (`digitocr.quantize`).

    Each operator costs a crop's read a microsecond or two, and these are a fifth of a small network's."""
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    images = graph.input[0].name
    producers = {output: node for node in graph.node for output in node.output}
    weights = {tensor.name: tensor for tensor in graph.initializer}
    for node in list(graph.node):
        if node.op_type == "Identity" and node.input[0] in weights:
            copy = onnx.TensorProto()
            copy.CopyFrom(weights[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            graph.node.remove(node)
        elif node.op_type == "LSTM":
            for slot in (5, 6):  # initial_h, initial_c
                if len(node.input) > slot and getattr(producers.get(node.input[slot]), "op_type", "") == "ConstantOfShape":
                    node.input[slot] = ""
        elif node.op_type == "Slice" and node.input[0] == images and not keep_width_trim:
            for consumer in graph.node:
                consumer.input[:] = [images if name == node.output[0] else name for name in consumer.input]
            graph.node.remove(node)
    while True:  # drop what no longer feeds the outputs
        used = {name for node in graph.node for name in node.input} | {output.name for output in graph.output}
        dead = [node for node in graph.node if not any(output in used for output in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _check_against_torch(data: bytes, model: torch.nn.Module, height: int) -> None:
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for shape in ((1, 1, height, 48), (3, 1, height, 136)):
        images = rng.random(shape, dtype=np.float32)
        with torch.inference_mode():
            expected = model(torch.from_numpy(images)).numpy()
        got = session.run(None, {"images": images})[0]
        if got.shape != expected.shape or float(np.abs(got - expected).max()) > 1e-3:
            raise UserError("the exported ONNX graph does not compute what the torch model does "
                            f"(shapes {got.shape} and {expected.shape}); please report this")
