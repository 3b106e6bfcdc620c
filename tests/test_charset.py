import numpy as np
import pytest

from digitocr.charset import Charset
from digitocr.errors import UserError


def one_hot_log_probs(path: list[int], classes: int = 11, certainty: float = 0.9) -> np.ndarray:
    """(T, 1, C) log-probabilities whose best path is `path`."""
    probs = np.full((len(path), 1, classes), (1 - certainty) / (classes - 1))
    for step, cls in enumerate(path):
        probs[step, 0, cls] = certainty
    return np.log(probs)


def test_blank_is_class_zero_and_digits_follow():
    charset = Charset("0123456789")
    assert charset.num_classes == 11
    assert charset.encode("109") == [2, 1, 10]


def test_greedy_decoding_merges_repeats_but_keeps_blank_separated_ones():
    charset = Charset("0123456789")
    (text, confidence), = charset.decode_greedy(one_hot_log_probs([2, 2, 0, 2, 0, 0, 6, 6]))
    assert text == "115"
    assert confidence == pytest.approx(0.9 ** 8)


def test_decoding_stops_at_each_items_length():
    charset = Charset("01")
    log_probs = np.concatenate([one_hot_log_probs([1, 0, 2], 3), one_hot_log_probs([2, 2, 1], 3)], axis=1)
    assert [text for text, _ in charset.decode_greedy(log_probs, np.array([1, 3]))] == ["0", "10"]


def test_characters_outside_the_charset_are_a_user_error():
    with pytest.raises(UserError, match="outside the charset"):
        Charset("0123456789").encode("12a")
    with pytest.raises(UserError):
        Charset("00")
