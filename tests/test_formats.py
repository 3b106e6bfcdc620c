"""Formats: what they accept and parse, and decoding that finds the best path fitting a format."""

import numpy as np
import pytest
from network_outputs import log_probs

from digitocr.charset import Charset
from digitocr.errors import UserError
from digitocr.formats import (
    constrained_candidates,
    decode_best_paths,
    decode_constrained,
    greedy_path,
    parse_format,
    text_probabilities,
)

CHARSET = Charset("0123456789.:-%")


@pytest.mark.parametrize(("spec", "text", "value"), [
    ("int", "151", 151), ("int", "-151", None), ("int", "15.1", None),
    ("signed", "-40", -40), ("signed", "40", 40), ("signed", "4-0", None),
    ("decimal:2", "3.14", 3.14), ("decimal:2", "3.1", None), ("decimal", "12.5", 12.5), ("decimal", "12", None),
    ("signed-decimal:1", "-0.5", -0.5), ("percent", "99%", 99), ("percent:1", "99.5%", 99.5),
    ("percent", "99", None), ("time", "1:23", 83.0), ("time", "1:63", None),
    ("time:m:ss.fff", "1:23.456", 83.456), ("time:m:ss.fff", "12:03.050", 723.05),
    ("time:h:mm:ss", "1:02:03", 3723.0), ("re:[0-9]{3}", "007", 7), ("re:[0-9]{3}", "07", None),
    ("re:[0-9]+/[0-9]+", "3/5", None),  # fits, but is no single number
])
def test_formats_accept_and_parse(spec, text, value):
    fmt = parse_format(spec)
    assert fmt.parse(text) == value
    assert fmt.fits(text) == (value is not None or spec == "re:[0-9]+/[0-9]+")


@pytest.mark.parametrize(("spec", "message"), [
    ("float", "unknown format 'float'"), ("decimal:x", "decimal places is 1 to 9"), ("int:3", "takes no argument"),
    ("re:", "needs a regular expression"), ("re:[0-9", "bad regular expression"),
    ("time:x:ss", "h, m, s and f"), ("time:.fff", "starts with h, m or s"),
])
def test_bad_formats_are_one_line_errors(spec, message):
    with pytest.raises(UserError, match=message):
        parse_format(spec)


def test_a_format_names_the_characters_a_model_lacks():
    with pytest.raises(UserError, match="needs '.:'"):
        parse_format("time:m:ss.fff").check_charset(Charset(), "region 'lap'")
    parse_format("int").check_charset(Charset(), "region 'speed'")


def outputs(frames: list[dict[str, float]]) -> np.ndarray:
    return log_probs(frames, CHARSET)


def test_constrained_search_finds_the_best_fitting_path_not_the_greedy_one():
    # Greedy reads "1.51" (a dropped-in point); an int field gets "151", the best path without the point.
    log_probs = outputs([{"1": 0.9}, {"_": 0.9}, {".": 0.6, "_": 0.4}, {"5": 0.9}, {"_": 0.9}, {"1": 0.9}])
    assert greedy_path(log_probs, CHARSET)[0] == "1.51"
    text, confidence, chars = decode_constrained(log_probs, CHARSET, parse_format("int"))
    assert text == "151" and len(chars) == 3
    assert confidence == pytest.approx(np.exp(log_probs.max(axis=1).sum()) * 0.4 / 0.6, rel=1e-3)
    # A field that must have one decimal keeps the point and drops the extra digit it cannot hold.
    assert decode_constrained(log_probs, CHARSET, parse_format("decimal:2"))[0] == "1.51"
    assert constrained_candidates(log_probs, CHARSET, parse_format("decimal:1"))[0][0] in ("1.5", "1.1")


def test_when_greedy_fits_it_is_the_answer_and_a_lost_sign_is_recovered():
    log_probs = outputs([{"_": 0.55, "-": 0.45}, {"4": 0.9}, {"_": 0.9}, {"0": 0.9}])
    assert decode_constrained(log_probs, CHARSET, parse_format("signed")) == greedy_path(log_probs, CHARSET)
    assert decode_constrained(log_probs, CHARSET, parse_format("re:-[0-9]+"))[0] == "-40"


def test_nothing_fits_gives_an_empty_result():
    log_probs = outputs([{"1": 0.99}, {"_": 0.99}])
    assert decode_constrained(log_probs, CHARSET, parse_format("time:m:ss")) == ("", 0.0, [])


def test_repeated_characters_need_a_blank_between_them():
    log_probs = outputs([{"1": 0.9}, {"1": 0.9}, {"_": 0.6, "1": 0.4}, {"1": 0.9}])
    assert greedy_path(log_probs, CHARSET)[0] == "11"
    assert decode_constrained(log_probs, CHARSET, parse_format("re:1{2}"))[0] == "11"
    assert decode_constrained(log_probs, CHARSET, parse_format("re:1"))[0] == "1"


def test_the_text_probability_counts_every_alignment_of_the_text():
    # Frames torn between a digit and the blank beside it halve the best path but not the text.
    log_probs = outputs([{"1": 0.5, "_": 0.5}, {"1": 0.98}, {"_": 0.5, "1": 0.5}, {"_": 0.98},
                         {"5": 0.5, "_": 0.5}, {"5": 0.98}, {"5": 0.5, "_": 0.5}])
    text, confidence, _ = greedy_path(log_probs, CHARSET)
    exact = text_probabilities(log_probs[:, None, :], np.array([7]), [CHARSET.encode(text)], [0])[0]
    assert text == "15" and confidence == pytest.approx(exact, rel=0.05) and confidence > 0.7
    best_path = np.exp(log_probs.max(axis=1).sum())
    assert best_path < 0.1


def test_the_runner_up_is_the_nearest_different_text_and_batches_decode_alike():
    log_probs = outputs([{"7": 0.55, "1": 0.45}, {"_": 0.99}, {"5": 0.99}, {"5": 0.99}])
    [decoded] = decode_best_paths(log_probs[:, None, :], np.array([4]), CHARSET)
    assert (decoded.text, decoded.alternative) == ("75", "15")
    assert decoded.alternative_confidence == pytest.approx(0.45 / 0.55 * decoded.confidence, rel=0.05)
    other = outputs([{"1": 0.99}, {"_": 0.99}, {"1": 0.99}, {"_": 0.99}])
    batch = np.stack([log_probs, other], axis=1)
    decoded_batch = decode_best_paths(batch, np.array([4, 2]), CHARSET)
    assert decoded_batch[0] == decoded and decoded_batch[1].text == "1"  # the second item ends after 2 frames


def test_large_charsets_decode_as_the_tabulated_small_ones():
    """Up to TABULATED_CLASSES classes a frame's allowed symbols are looked up in a table; beyond, computed:
    a charset of more characters, used only through the first 15 classes, decodes exactly alike."""
    rng = np.random.default_rng(0)
    small = Charset("0123456789.:-%")
    large = Charset(small.chars + "".join(chr(code) for code in range(0x100, 0x100 + 60)))
    for _ in range(50):
        steps, batch = int(rng.integers(1, 25)), int(rng.integers(1, 4))
        logits = rng.normal(0, 4, (steps, batch, small.num_classes))
        logits[..., 0] += 2
        few = (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)
        many = np.concatenate([few, np.full((steps, batch, 60), -80.0, np.float32)], axis=2)
        lengths = rng.integers(0, steps + 1, batch)
        assert decode_best_paths(few, lengths, small) == decode_best_paths(many, lengths, large)
