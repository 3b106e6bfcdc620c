"""The recognizer contract: what every network provides, and all that training, reading, export and the
model folder rely on.

- `forward(images)`: (B, 1, input_height, W) float32 crops in [0, 1], dark ink on a light background and
  padded on the right with the background (1.0), to (T, B, num_classes) CTC log-probabilities; class 0 is
  the blank.
- `time_stride`: input columns per output time step. Crops narrower than `time_stride` x (the frames a
  label needs) cannot be read, so the trainer widens them (`digitocr.ctc.min_widths`).
- `output_lengths(widths)`: the time steps each crop's own width gives (at most T of the padded batch).
- `config`: the constructor's options, JSON-ready; `type(model)(num_classes=N, **config)` builds the same
  network again, which is how a model folder (model.json's `architecture_options`) is loaded.
- `input_height`: the crop height it takes (`config["height"]`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn


class Recognizer(nn.Module):
    """Base class of every network in `digitocr.models.ARCHITECTURES`."""

    time_stride: ClassVar[int]

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = config

    @property
    def input_height(self) -> int:
        return int(self.config["height"])

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Time steps produced for crops of the given widths."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
