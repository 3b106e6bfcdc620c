"""digitocr.ctc: the loss, the widths a time stride needs, greedy decoding."""

import numpy as np
import pytest
import torch

from digitocr.charset import Charset
from digitocr.ctc import ctc_loss, decode_greedy, frames_needed, min_widths


def one_hot_log_probs(path: list[int], classes: int = 11, certainty: float = 0.9) -> np.ndarray:
    """(T, 1, C) log-probabilities whose best path is `path`."""
    probs = np.full((len(path), 1, classes), (1 - certainty) / (classes - 1))
    for step, cls in enumerate(path):
        probs[step, 0, cls] = certainty
    return np.log(probs)


def test_greedy_decoding_merges_repeats_but_keeps_blank_separated_ones():
    (text, confidence), = decode_greedy(one_hot_log_probs([2, 2, 0, 2, 0, 0, 6, 6]), None, Charset("0123456789"))
    assert text == "115"
    assert confidence == pytest.approx(0.9 ** 8)


def test_decoding_stops_at_each_items_length():
    log_probs = np.concatenate([one_hot_log_probs([1, 0, 2], 3), one_hot_log_probs([2, 2, 1], 3)], axis=1)
    assert [text for text, _ in decode_greedy(log_probs, np.array([1, 3]), Charset("01"))] == ["0", "10"]


def test_widths_follow_the_time_stride():
    assert frames_needed("1223") == 5 and frames_needed("") == 0
    assert min_widths(["1223", "7"], 4) == [24, 8]
    assert min_widths(["1223", "7"], 8) == [48, 16]


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_the_loss_is_finite_at_the_minimum_width_and_infinite_below(stride):
    charset = Charset()
    labels = ["1100", "5"]
    widths = torch.tensor(min_widths(labels, stride))
    steps = widths // stride
    log_probs = torch.randn(int(steps.max()), 2, charset.num_classes).log_softmax(2)
    assert torch.isfinite(ctc_loss(log_probs, labels, steps, charset))
    too_few = torch.tensor([frames_needed(labels[0]) - 1, 1])
    assert torch.isinf(ctc_loss(log_probs, labels, too_few, charset))
