"""`conv`: `strided` with convolutions over time in place of the BiLSTM: the fastest reader.

The BiLSTM is half of `strided`'s time in ONNX Runtime (its steps run one after another, in floats: ONNX
Runtime quantizes an LSTM only dynamically). A digit spans four to six time steps, so each step needs the
context of a digit or so around it, not of the whole crop: two convolutions over time (kernel 3, dilations
1 and 2) give each step the 7 steps around it, and with the convolutions below them a step sees about 50
columns of the crop. They cost the arithmetic of strided's BiLSTM, quantize to 8 bits with the rest, and
the network runs a crop about twice as fast as `strided` in 8 bits (benchmarks/bench_read.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from digitocr.models.strided import StridedCRNN

DILATIONS = (1, 2)  # of the convolutions over time: the second sees past the first's reach


class ConvCTC(StridedCRNN):
    """`strided`'s convolutions (height 32 -> 1, width / 4), then convolutions over time and the classifier."""

    def __init__(self, num_classes: int, height: int = 32, channels: Sequence[int] = (24, 48, 64, 80),
                 hidden: int = 80) -> None:
        super().__init__(num_classes, height, channels, hidden)
        width = 2 * hidden  # as wide as strided's BiLSTM output, so the classifier keeps its shape
        layers: list[nn.Module] = []
        inputs = channels[3] * 2
        for dilation in DILATIONS:
            layers += [nn.Conv2d(inputs, width, (1, 3), padding=(0, dilation), dilation=(1, dilation), bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            inputs = width
        self.sequence = nn.Sequential(*layers)  # type: ignore[assignment]  # (strided's is an LSTM)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images[:, :, :, : images.shape[3] // self.time_stride * self.time_stride]
        features = self.sequence(self.collapse(self.features(images))).squeeze(2)  # B x C x T
        return self.classifier(features.permute(2, 0, 1)).log_softmax(2)          # T x B x classes
