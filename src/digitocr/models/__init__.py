"""Recognition networks by name: each maps (B, 1, H, W) crops to (T, B, classes) CTC log-probabilities."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from digitocr.errors import UserError
from digitocr.models.crnn import CRNN
from digitocr.models.tiny import TinyCRNN
from digitocr.preprocess import BACKGROUND

ARCHITECTURES: dict[str, type[nn.Module]] = {"tiny": TinyCRNN, "crnn": CRNN}


def build_model(architecture: str, num_classes: int, **options: Any) -> nn.Module:
    """A fresh network of the named architecture; `options` are its constructor arguments."""
    if architecture not in ARCHITECTURES:
        raise UserError(f"unknown architecture {architecture!r} (choose from {', '.join(ARCHITECTURES)})")
    try:
        return ARCHITECTURES[architecture](num_classes=num_classes, **options)
    except TypeError as error:
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


def optimize_for_inference(model: nn.Module) -> nn.Module:
    """Fold each BatchNorm into the convolution before it and switch to channels-last (about 2x faster).

    Works on a copy; the result is for inference only.
    """
    model = copy.deepcopy(model).eval()
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent)
        for i in range(len(children) - 1):
            if isinstance(children[i], nn.Conv2d) and isinstance(children[i + 1], nn.BatchNorm2d):
                parent[i] = fuse_conv_bn_eval(children[i], children[i + 1])
                parent[i + 1] = nn.Identity()
    return model.to(memory_format=torch.channels_last)
