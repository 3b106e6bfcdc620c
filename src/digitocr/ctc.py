"""CTC in one place: the loss, the crop widths a model's time stride needs, and greedy decoding.

Training, validation, reading and the benchmarks all go through here, so a network with another time
stride gets crops wide enough for it instead of infinite losses. No torch at module level: readers on
ONNX Runtime decode with `decode_greedy` too.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from digitocr.charset import BLANK, Charset

if TYPE_CHECKING:
    import torch


def frames_needed(label: str) -> int:
    """CTC's minimum time steps for a label: one per character, one blank between repeats."""
    return len(label) + sum(a == b for a, b in itertools.pairwise(label))


def min_widths(labels: Sequence[str], stride: int) -> list[int]:
    """The width each crop needs so a network of time stride `stride` gives CTC enough steps (plus one)."""
    return [stride * (frames_needed(label) + 1) for label in labels]


def ctc_loss(log_probs: torch.Tensor, labels: Sequence[str], input_lengths: torch.Tensor,
             charset: Charset) -> torch.Tensor:
    """Mean CTC loss of (T, B, C) log-probabilities against the labels (computed in float32); may be
    infinite when a crop gives fewer steps than its label needs, which the trainer treats as a bad batch."""
    import torch

    targets = torch.tensor([c for label in labels for c in charset.encode(label)], dtype=torch.long,
                           device=log_probs.device)
    target_lengths = torch.tensor([len(label) for label in labels], dtype=torch.long)
    return torch.nn.functional.ctc_loss(log_probs.float(), targets, input_lengths, target_lengths,
                                        blank=BLANK, reduction="mean", zero_infinity=False)


def decode_greedy(log_probs: np.ndarray, lengths: np.ndarray | None, charset: Charset
                  ) -> list[tuple[str, float]]:
    """Best-path decoding of (T, B, C) log-probabilities into (text, confidence) per item.

    The confidence is the probability of the best path (product of the per-frame maxima), so one
    uncertain frame lowers it as much as the whole reading deserves.
    """
    steps, batch, _ = log_probs.shape
    best = log_probs.argmax(axis=2)
    best_log_prob = log_probs.max(axis=2)
    lengths = np.full(batch, steps) if lengths is None else lengths
    results = []
    for item in range(batch):
        path = best[: lengths[item], item]
        keep = (path != BLANK) & np.concatenate(([True], path[1:] != path[:-1]))
        text = "".join(charset.chars[c - 1] for c in path[keep])
        confidence = float(np.exp(best_log_prob[: lengths[item], item].sum()))
        results.append((text, confidence))
    return results
