"""The seed's accuracy figures (CA and WA) and per-character confusions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import editdistance


def sample_character_accuracy(prediction: str, label: str) -> float:
    """The seed's per-image CA in percent: max(0, 1 - edit distance / label length) * 100.

    An empty label is read right only by an empty reading (100), anything else scores 0.
    """
    if not label:
        return 100.0 if not prediction else 0.0
    return max(0.0, 1.0 - editdistance.eval(prediction, label) / len(label)) * 100.0


def character_accuracy(predictions: Sequence[str], labels: Sequence[str]) -> float:
    """Mean per-image CA in percent (the seed's `Character Accuracy`)."""
    _check_lengths(predictions, labels)
    if not labels:
        return 0.0
    return sum(map(sample_character_accuracy, predictions, labels)) / len(labels)


def word_accuracy(predictions: Sequence[str], labels: Sequence[str]) -> float:
    """Fraction of images read exactly (the seed's `Word Accuracy`, between 0 and 1)."""
    _check_lengths(predictions, labels)
    if not labels:
        return 0.0
    return sum(p == t for p, t in zip(predictions, labels)) / len(labels)


def align(prediction: str, label: str) -> list[tuple[str, str]]:
    """A minimal edit alignment as (label char, read char) pairs; '' marks a missing side."""
    rows, cols = len(label) + 1, len(prediction) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                             cost[i - 1][j - 1] + (label[i - 1] != prediction[j - 1]))
    pairs: list[tuple[str, str]] = []
    i, j = len(label), len(prediction)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (label[i - 1] != prediction[j - 1]):
            pairs.append((label[i - 1], prediction[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((label[i - 1], ""))
            i -= 1
        else:
            pairs.append(("", prediction[j - 1]))
            j -= 1
    return pairs[::-1]


def confusions(predictions: Sequence[str], labels: Sequence[str]) -> Counter[tuple[str, str]]:
    """Counts of (label char, read char) errors: substitutions, deletions ('' read) and insertions."""
    _check_lengths(predictions, labels)
    counts: Counter[tuple[str, str]] = Counter()
    for prediction, label in zip(predictions, labels):
        counts.update(pair for pair in align(prediction, label) if pair[0] != pair[1])
    return counts


def _check_lengths(predictions: Sequence[str], labels: Sequence[str]) -> None:
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
