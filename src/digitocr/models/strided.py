"""`strided`: `tiny`'s layout with strided convolutions in place of pooling, for the general model.

`tiny` convolves at full resolution and then pools; its second convolution alone (at 16 x W/2) costs a
third of the network. Here each convolution that shrinks the map does it by its own stride, so it
computes only the outputs that are kept, and one more convolution at 4 x W/4 buys back depth. With the
general model's widths (24-80 channels, 80 hidden) its network runs a crop 1.6x faster than `tiny` of those
widths in ONNX Runtime (benchmarks/bench_read.py), and the general recipe trains it at 2.3x the images/s.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from digitocr.models.base import Recognizer


def conv_block(in_channels: int, out_channels: int, stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class StridedCRNN(Recognizer):
    """CNN of strided convolutions (height 32 -> 1, width / 4) + BiLSTM + linear classifier."""

    time_stride = 4

    def __init__(self, num_classes: int, height: int = 32, channels: Sequence[int] = (24, 48, 64, 80),
                 hidden: int = 80) -> None:
        super().__init__({"height": height, "channels": list(channels), "hidden": hidden})
        if height != 32:
            raise ValueError("strided expects an input height of 32")
        c1, c2, c3, c4 = channels
        self.features = nn.Sequential(
            conv_block(1, c1, (2, 2)),   # 16 x W/2
            conv_block(c1, c2, (2, 2)),  # 8 x W/4
            conv_block(c2, c3, (2, 1)),  # 4 x W/4
            conv_block(c3, c3, (1, 1)),  # 4 x W/4
            conv_block(c3, c4, (2, 1)),  # 2 x W/4
        )
        self.collapse = nn.Sequential(nn.Conv2d(c4, c4 * 2, (2, 1), bias=False),  # 1 x W/4
                                      nn.BatchNorm2d(c4 * 2), nn.ReLU(inplace=True))
        self.sequence = nn.LSTM(c4 * 2, hidden, bidirectional=True)
        self.classifier = nn.Linear(2 * hidden, num_classes)

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Time steps produced for crops of the given widths."""
        return widths // self.time_stride

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # The last width % 4 columns are dropped (as tiny's pooling drops them), so a padded strided
        # convolution never makes a step of them alone: one step per 4 columns, exactly.
        images = images[:, :, :, : images.shape[3] // self.time_stride * self.time_stride]
        features = self.collapse(self.features(images)).squeeze(2)  # B x C x T
        sequence, _ = self.sequence(features.permute(2, 0, 1))       # T x B x 2H
        return self.classifier(sequence).log_softmax(2)
