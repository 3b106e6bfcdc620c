"""`strided`: `tiny` with strided convolutions in place of pooling, for the general model.

`tiny` convolves at full resolution and then pools; its second convolution alone (at 16 x W/2) costs a
third of the network. Here each convolution that shrinks the map does it by its own stride, so it
computes only the outputs that are kept, and one more convolution at 4 x W/4 buys back depth. The
collapse, the BiLSTM and the classifier are tiny's. With the general model's widths (24-80 channels, 80
hidden) its network runs a crop 1.6x faster than `tiny` of those widths in ONNX Runtime
(benchmarks/bench_read.py), and the general recipe trains it at 2.3x the images/s.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from digitocr.models.tiny import TinyCRNN, conv_block


class StridedCRNN(TinyCRNN):
    """CNN of strided convolutions (height 32 -> 1, width / 4) + tiny's BiLSTM and classifier."""

    def __init__(self, num_classes: int, height: int = 32, channels: Sequence[int] = (24, 48, 64, 80),
                 hidden: int = 80) -> None:
        super().__init__(num_classes, height, channels, hidden)

    def make_features(self, channels: Sequence[int]) -> nn.Sequential:
        c1, c2, c3, c4 = channels
        shapes = ((1, c1, (2, 2)),   # 16 x W/2
                  (c1, c2, (2, 2)),  # 8 x W/4
                  (c2, c3, (2, 1)),  # 4 x W/4
                  (c3, c3, (1, 1)),  # 4 x W/4
                  (c3, c4, (2, 1)))  # 2 x W/4
        return nn.Sequential(*(conv_block(inputs, outputs, None, stride) for inputs, outputs, stride in shapes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # The last width % 4 columns are dropped (as tiny's pooling drops them), so a padded strided
        # convolution never makes a step of them alone: one step per 4 columns, exactly.
        return super().forward(self.trimmed(images))

    def trimmed(self, images: torch.Tensor) -> torch.Tensor:
        """The crops without their last width % time_stride columns."""
        return images[:, :, :, : images.shape[3] // self.time_stride * self.time_stride]
