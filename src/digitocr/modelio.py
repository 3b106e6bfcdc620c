"""Model folders: `model.safetensors` + `model.json`, written atomically, loaded without unpickling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from digitocr import __version__
from digitocr.charset import Charset
from digitocr.errors import UserError
from digitocr.files import atomic_path, write_text_atomically
from digitocr.mapping import from_mapping
from digitocr.models import Recognizer, architecture_name, build_model
from digitocr.preprocess import Preprocess

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
ONNX_FILE = "model.onnx"  # written by `digitocr export` (digitocr.export)
FORMAT = "digitocr-model/1"


@dataclass
class LoadedModel:
    """A network ready for inference plus what model.json says about it."""

    model: Recognizer
    charset: Charset
    preprocess: Preprocess
    meta: dict[str, Any]


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Save tensors as safetensors, atomically (contiguous copies, as safetensors requires)."""
    with atomic_path(path) as temporary:
        try:
            save_file({name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()},
                      str(temporary))
        except SafetensorError as error:  # its I/O errors (a full disk) come as this, not as OSError
            raise UserError(f"cannot write {path}: {str(error).removeprefix('Error while serializing: ')}") from None


def save_model(folder: Path | str, model: Recognizer, meta: dict[str, Any]) -> Path:
    """Write the weights and model.json (architecture and its options, plus `meta`) into `folder`.

    `meta` must hold `charset` (a string) and `preprocess` (a Preprocess mapping); anything else
    (training configuration, final metrics) is kept as given.
    """
    folder = Path(folder)
    document = {
        "format": FORMAT,
        "digitocr_version": __version__,
        "architecture": architecture_name(model),
        "architecture_options": model.config,
        "input_height": model.input_height,
        **meta,
    }
    save_tensors(folder / WEIGHTS_FILE, model.state_dict())
    write_text_atomically(folder / META_FILE, json.dumps(document, indent=2, sort_keys=False) + "\n")
    # An export of earlier weights would now read differently from them: a folder never keeps a stale one.
    (folder / ONNX_FILE).unlink(missing_ok=True)
    return folder


def read_meta(folder: Path | str) -> dict[str, Any]:
    """model.json of a model folder, checked for the fields a reader needs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"no model folder at {folder}")
    for name in (META_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise UserError(f"{folder} is not a model folder: {name} is missing")
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{folder / META_FILE} is not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise UserError(f"{folder / META_FILE} must hold a JSON object")
    missing = {"architecture", "architecture_options", "charset", "preprocess"} - set(meta)
    if missing:
        raise UserError(f"{folder / META_FILE} lacks {', '.join(sorted(missing))}")
    for key, kind in (("architecture", str), ("architecture_options", dict), ("charset", str), ("preprocess", dict)):
        if not isinstance(meta[key], kind):
            raise UserError(f"{folder / META_FILE}: {key} must be a {'string' if kind is str else 'JSON object'}, "
                            f"got {meta[key]!r:.60}")
    return meta


def load_model(folder: Path | str, expected_charset: str | None = None) -> LoadedModel:
    """Load a model folder for inference (eval mode, CPU). Never unpickles anything."""
    folder = Path(folder)
    meta = read_meta(folder)
    charset = Charset(meta["charset"])
    if expected_charset is not None and expected_charset != charset.chars:
        raise UserError(f"the model in {folder} reads {charset.chars!r}, not {expected_charset!r}")
    model = build_model(meta["architecture"], charset.num_classes, **meta["architecture_options"])
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except (SafetensorError, OSError) as error:
        raise UserError(f"cannot read {folder / WEIGHTS_FILE}: {error}") from None
    broken = sorted(name for name, tensor in state.items()
                    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()))
    if broken:
        raise UserError(f"{folder / WEIGHTS_FILE} holds NaN or infinite weights ({', '.join(broken[:3])}"
                        f"{', ...' if len(broken) > 3 else ''}): the run that wrote it diverged")
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise UserError(f"{folder / WEIGHTS_FILE} does not match model.json (architecture "
                        f"{meta['architecture']!r}, charset {charset.chars!r} of {len(charset.chars)} "
                        "characters)") from None
    model.eval()
    preprocess = from_mapping(Preprocess, meta["preprocess"], f"{folder / META_FILE}: preprocess")
    return LoadedModel(model, charset, preprocess, meta)
