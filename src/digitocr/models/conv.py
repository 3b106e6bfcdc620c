"""`conv`: `strided` with convolutions over time in place of the BiLSTM: the fastest reader.

The BiLSTM is half of `strided`'s time in ONNX Runtime (its steps run one after another, in floats: ONNX
Runtime quantizes an LSTM only dynamically). A digit spans four to six time steps, so each step needs the
context of a digit or so around it, not of the whole crop: two convolutions over time (kernel 3, dilations
1 and 2) give each step the 7 steps around it, and with the convolutions below them a step sees about 50
columns of the crop. They cost the arithmetic of strided's BiLSTM, quantize to 8 bits with the rest, and
the network runs a crop about twice as fast as `strided` in 8 bits (benchmarks/bench_read.py).
"""

from __future__ import annotations

import torch
from torch import nn

from digitocr.models.strided import StridedCRNN

DILATIONS = (1, 2)  # of the convolutions over time: the second sees past the first's reach


class ConvCTC(StridedCRNN):
    """`strided`'s convolutions (height 32 -> 1, width / 4), then convolutions over time and the classifier."""

    def make_sequence(self, inputs: int, hidden: int) -> nn.Module:
        width = 2 * hidden  # as wide as strided's BiLSTM output, so the classifier keeps its shape
        layers: list[nn.Module] = []
        for dilation in DILATIONS:
            layers += [nn.Conv2d(inputs, width, (1, 3), padding=(0, dilation), dilation=(1, dilation), bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            inputs = width
        return nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.sequence(self.collapse(self.features(self.trimmed(images)))).squeeze(2)  # B x C x T
        return self.classifier(features.permute(2, 0, 1)).log_softmax(2)                        # T x B x classes
