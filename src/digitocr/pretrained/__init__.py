"""The general model shipped inside the package: read numbers on screens with no training.

`general/` holds model.safetensors, model.json and model.onnx, made by `make pretrained`
(recipes/general.py: synthetic data only, fixed seeds) and checked against SHA256SUMS here, so a truncated
or edited file in a broken install is named instead of failing somewhere deep in a reader.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from digitocr.errors import UserError

MODEL_DIR = Path(__file__).parent / "general"
CHECKSUMS_FILE = "SHA256SUMS"
FILES = ("model.json", "model.safetensors", "model.onnx")
REINSTALL_HINT = ("reinstall digitocr (pip install --force-reinstall --no-deps digitocr), or in a checkout "
                  "run `make pretrained`")


def default_model_dir() -> Path:
    """The shipped general model's folder, after checking that every file is there and intact."""
    check_model_dir(MODEL_DIR)
    return MODEL_DIR


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_model_dir(folder: Path) -> None:
    """UserError naming the first missing or damaged file of a shipped model folder."""
    sums = folder / CHECKSUMS_FILE
    for name in (*FILES, CHECKSUMS_FILE):
        if not (folder / name).is_file():
            raise UserError(f"the shipped general model is incomplete: {folder / name} is missing; {REINSTALL_HINT}")
    expected = {name: digest for digest, name in (line.split(maxsplit=1) for line in
                                                  sums.read_text(encoding="utf-8").splitlines() if line.strip())}
    for name in FILES:
        if expected.get(name) != _digest(folder / name):
            raise UserError(f"the shipped general model is damaged: {folder / name} does not match its checksum "
                            f"in {sums}; {REINSTALL_HINT}")
    try:
        json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise UserError(f"the shipped general model is damaged: {folder / 'model.json'}: {error}; "
                        f"{REINSTALL_HINT}") from None


def write_checksums(folder: Path) -> Path:
    """SHA256SUMS for a model folder about to be shipped (`sha256sum -c` reads it too)."""
    path = folder / CHECKSUMS_FILE
    path.write_text("".join(f"{_digest(folder / name)}  {name}\n" for name in FILES), encoding="utf-8")
    return path
