"""Networks built by name from the registry (`digitocr.models.ARCHITECTURES`), and crops batched for them."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import numpy as np
import torch
from torch import nn

from digitocr.errors import UserError
from digitocr.models import ARCHITECTURES
from digitocr.models.base import Recognizer
from digitocr.preprocess import BACKGROUND


def architecture_class(architecture: str) -> type[Recognizer]:
    """The `Recognizer` subclass registered under `architecture`."""
    if architecture not in ARCHITECTURES:
        raise UserError(f"unknown architecture {architecture!r} (choose from {', '.join(ARCHITECTURES)})")
    module, _, name = ARCHITECTURES[architecture].partition(":")
    cls = getattr(import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Recognizer)):
        raise TypeError(f"{ARCHITECTURES[architecture]} is not a Recognizer")
    return cls


def architecture_name(model: nn.Module) -> str:
    """The registry name of a network's class."""
    path = f"{type(model).__module__}:{type(model).__qualname__}"
    for name, registered in ARCHITECTURES.items():
        if registered == path:
            return name
    raise ValueError(f"{type(model).__name__} is not a registered architecture")


def build_model(architecture: str, num_classes: int, **options: Any) -> Recognizer:
    """A fresh network of the named architecture; `options` are its constructor arguments."""
    factory: Callable[..., Recognizer] = architecture_class(architecture)  # each class has its own options
    try:
        return factory(num_classes=num_classes, **options)
    except (TypeError, ValueError) as error:
        raise UserError(f"bad options for architecture {architecture!r}: {error}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def pad_batch(crops: list[np.ndarray], min_widths: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack preprocessed crops (float in [0, 1] or uint8) into (B, 1, H, W_max), padded with background.

    Returns the batch (channels-last, the fast layout for these convolutions on a CPU) and each crop's
    own width (at least its `min_widths` entry), from which the model derives its CTC lengths.
    """
    widths = [max(crop.shape[1], (min_widths or [0] * len(crops))[i]) for i, crop in enumerate(crops)]
    height = crops[0].shape[0]
    scale = 255.0 if crops[0].dtype == np.uint8 else 1.0
    batch = np.full((len(crops), 1, height, max(widths)), BACKGROUND, dtype=np.float32)
    for i, crop in enumerate(crops):
        batch[i, 0, :, : crop.shape[1]] = crop / scale if scale != 1.0 else crop
    tensor = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
    return tensor, torch.tensor(widths, dtype=torch.long)
