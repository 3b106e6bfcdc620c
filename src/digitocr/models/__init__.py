"""Recognition networks by name. Adding one takes a module with a `Recognizer` subclass
(`digitocr.models.base` says what it must provide) and one line in `ARCHITECTURES`.

This module imports no torch, so the CLI can offer the names quickly; the networks and the torch
helpers (`build_model`, `pad_batch`, `optimize_for_inference`, ...) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

ARCHITECTURES: dict[str, str] = {  # name -> "module:class"
    "tiny": "digitocr.models.tiny:TinyCRNN",
    "strided": "digitocr.models.strided:StridedCRNN",
    "crnn": "digitocr.models.crnn:CRNN",
    "conv": "digitocr.models.conv:ConvCTC",
}

_LAZY = {
    "Recognizer": "digitocr.models.base",
    "architecture_class": "digitocr.models.network",
    "architecture_name": "digitocr.models.network",
    "build_model": "digitocr.models.network",
    "count_parameters": "digitocr.models.network",
    "pad_batch": "digitocr.models.network",
    "PairMaxPool": "digitocr.models.inference",
    "optimize_for_inference": "digitocr.models.inference",
}

if TYPE_CHECKING:
    from digitocr.models.base import Recognizer
    from digitocr.models.inference import PairMaxPool, optimize_for_inference
    from digitocr.models.network import (
        architecture_class,
        architecture_name,
        build_model,
        count_parameters,
        pad_batch,
    )

__all__ = ["ARCHITECTURES", "PairMaxPool", "Recognizer", "architecture_class", "architecture_name",
           "build_model", "count_parameters", "optimize_for_inference", "pad_batch"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'digitocr.models' has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)
