"""`tiny`: the default network, small enough to train in minutes and read in a millisecond on a CPU.

Five 3x3 convolutions bring the height from 32 to 1 and the width down by 4 (a 100-pixel crop gives
25 time steps, enough for CTC to separate repeated digits), then one small bidirectional LSTM gives
each step the context of its neighbours. About 0.3 M parameters and 10 M multiply-adds on 32x100.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from digitocr.models.base import Recognizer


def conv_block(in_channels: int, out_channels: int, pool: tuple[int, int] | None,
               stride: tuple[int, int] = (1, 1)) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU, then the max pooling `pool` (if any)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(pool, pool))
    return nn.Sequential(*layers)


class TinyCRNN(Recognizer):
    """CNN (height 32 -> 1, width / 4) + BiLSTM + linear classifier over charset + blank."""

    time_stride = 4

    def __init__(self, num_classes: int, height: int = 32, channels: Sequence[int] = (16, 32, 48, 64),
                 hidden: int = 64) -> None:
        super().__init__({"height": height, "channels": list(channels), "hidden": hidden})
        if height != 32:
            raise ValueError(f"{type(self).__name__} expects an input height of 32")
        c4 = channels[3]
        self.features = self.make_features(channels)  # channels[3] x 2 x W/4
        self.collapse = nn.Sequential(nn.Conv2d(c4, c4 * 2, (2, 1), bias=False),  # 1 x W/4
                                      nn.BatchNorm2d(c4 * 2), nn.ReLU(inplace=True))
        self.sequence = self.make_sequence(c4 * 2, hidden)
        self.classifier = nn.Linear(2 * hidden, num_classes)

    def make_features(self, channels: Sequence[int]) -> nn.Sequential:
        """The convolutions: a 32 x W crop to channels[3] x 2 x W/4 (subclasses change only these)."""
        c1, c2, c3, c4 = channels
        return nn.Sequential(
            conv_block(1, c1, (2, 2)),   # 16 x W/2
            conv_block(c1, c2, (2, 2)),  # 8 x W/4
            conv_block(c2, c3, (2, 1)),  # 4 x W/4
            conv_block(c3, c4, (2, 1)),  # 2 x W/4
        )

    def make_sequence(self, inputs: int, hidden: int) -> nn.Module:
        """What gives each time step its neighbours' context: (T, B, inputs) -> (T, B, 2 * hidden) here."""
        return nn.LSTM(inputs, hidden, bidirectional=True)

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Time steps produced for crops of the given widths."""
        return widths // self.time_stride

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.collapse(self.features(images)).squeeze(2)  # B x C x T
        sequence, _ = self.sequence(features.permute(2, 0, 1))       # T x B x 2H
        return self.classifier(sequence).log_softmax(2)
