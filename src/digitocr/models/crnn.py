"""`crnn`: the seed's network (Shi et al.'s CRNN as in Adapting-OCR), kept to compare against `tiny`.

Seven VGG-style convolutions (64 ... 512 channels), two bidirectional LSTMs of 256 and CTC: about
8.3 M parameters, and about 20 training images/s on two CPU cores.
"""

from __future__ import annotations

import torch
from torch import nn

from digitocr.models.base import Recognizer


class BidirectionalLSTM(nn.Module):
    def __init__(self, inputs: int, hidden: int, outputs: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(inputs, hidden, bidirectional=True)
        self.embedding = nn.Linear(hidden * 2, outputs)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        recurrent, _ = self.rnn(sequence)
        return self.embedding(recurrent)


class CRNN(Recognizer):
    """The classic CRNN: a 32-pixel-high crop becomes W/4 + 1 time steps."""

    time_stride = 4

    def __init__(self, num_classes: int, height: int = 32, hidden: int = 256) -> None:
        super().__init__({"height": height, "hidden": hidden})
        if height != 32:
            raise ValueError("crnn expects an input height of 32")
        kernels = [3, 3, 3, 3, 3, 3, 2]
        paddings = [1, 1, 1, 1, 1, 1, 0]
        channels = [1, 64, 128, 256, 256, 512, 512, 512]
        pools = {0: ((2, 2), (2, 2), (0, 0)), 1: ((2, 2), (2, 2), (0, 0)),
                 3: ((2, 2), (2, 1), (0, 1)), 5: ((2, 2), (2, 1), (0, 1))}
        layers: list[nn.Module] = []
        for i in range(7):
            layers.append(nn.Conv2d(channels[i], channels[i + 1], kernels[i], 1, paddings[i]))
            if i in (2, 4, 6):
                layers.append(nn.BatchNorm2d(channels[i + 1]))
            layers.append(nn.ReLU(inplace=True))
            if i in pools:
                layers.append(nn.MaxPool2d(*pools[i]))
        self.cnn = nn.Sequential(*layers)
        self.rnn = nn.Sequential(BidirectionalLSTM(512, hidden, hidden),
                                 BidirectionalLSTM(hidden, hidden, num_classes))

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        return widths // self.time_stride + 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.cnn(images).squeeze(2).permute(2, 0, 1)  # T x B x 512
        return self.rnn(features).log_softmax(2)
