"""A model folder written with untrained weights, for tests that need one to load or read with."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from digitocr.modelio import save_model
from digitocr.models import build_model
from digitocr.preprocess import Preprocess


def saved_model(folder: Path, charset: str = "0123456789") -> nn.Module:
    torch.manual_seed(0)
    model = build_model("tiny", len(charset) + 1).eval()
    save_model(folder, model, {"charset": charset, "preprocess": Preprocess(binarize=True).to_mapping(),
                               "metrics": {"val_wa": 0.5}})
    return model
