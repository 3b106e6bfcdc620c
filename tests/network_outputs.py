"""Hand-made network outputs for decoding tests: what a CTC network would say, frame by frame."""

import numpy as np

from digitocr.charset import Charset


def log_probs(frames: list[dict[str, float]], charset: Charset) -> np.ndarray:
    """(T, C) log-probabilities from per-frame {character: probability} ('_' is the blank); the rest spread."""
    table = np.full((len(frames), charset.num_classes), 1e-6)
    for t, frame in enumerate(frames):
        for char, probability in frame.items():
            table[t, 0 if char == "_" else charset.chars.index(char) + 1] = probability
    return np.log(table / table.sum(axis=1, keepdims=True))
