"""Number formats, and CTC decoding that only returns strings of the format.

A format is a regular expression over the model's charset plus a parser to a number. Decoding searches the
network's outputs for the most probable path whose text fits the format (a beam search over prefixes that
drops every prefix the expression can no longer complete), instead of decoding greedily and rejecting: a
speedometer read as "1S1" or "15.1" comes back as "151" when the network gave that a fair chance.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import regex

from digitocr.charset import BLANK, Charset
from digitocr.errors import UserError

# Units of `time:` patterns: a run of the letter is that many digits; the first unit may grow (9:59 or 12:59).
_TIME_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
BEAM_WIDTH = 16
_PRUNE = math.log(1e-4)  # characters less likely than this in a frame are not tried there


def _parse_number(text: str) -> int | float | None:
    """'151' -> 151, '-3.25' -> -3.25, '1,024' -> 1024; None when the text is no number."""
    cleaned = text.replace(",", "").rstrip("%")
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        return float(cleaned)
    except ValueError:
        return None


@dataclass(frozen=True)
class NumberFormat:
    """A named regular expression over the charset, and how its text becomes a number."""

    name: str
    pattern: str
    parser: Callable[[str], int | float | None] = field(default=_parse_number, repr=False, compare=False)
    required: str = ""  # characters every fitting text needs (checked against a model's charset)

    def __post_init__(self) -> None:
        try:
            compiled = regex.compile(self.pattern)
        except regex.error as error:
            raise UserError(f"format {self.name!r}: bad regular expression: {error}") from None
        object.__setattr__(self, "_compiled", compiled)

    def fits(self, text: str) -> bool:
        return self._compiled.fullmatch(text) is not None  # type: ignore[attr-defined]

    def could_become(self, prefix: str) -> bool:
        """Whether some continuation of `prefix` fits (the pruning test of the constrained search)."""
        return self._compiled.fullmatch(prefix, partial=True) is not None  # type: ignore[attr-defined]

    def parse(self, text: str) -> int | float | None:
        """The number `text` shows, or None when it does not fit the format."""
        return self.parser(text) if self.fits(text) else None

    def check_charset(self, charset: Charset, where: str) -> None:
        """UserError when the model cannot produce a character this format needs."""
        if missing := charset.missing(self.required):
            raise UserError(f"{where}: format {self.name!r} needs {''.join(sorted(missing))!r}, which the model "
                            f"does not read (its charset is {charset.chars!r})")


def _time_format(spec: str, layout: str) -> NumberFormat:
    """`m:ss.fff`-style layouts: h/m/s digits, separators as written, f for fractions of a second."""
    pieces: list[str] = []
    units: list[float] = []
    i = 0
    while i < len(layout):
        letter = layout[i]
        run = len(layout) - i - len(layout[i:].lstrip(letter))
        if letter in _TIME_UNITS:
            digits = rf"\d{{{run},}}" if not units else r"[0-5]\d" if run == 2 else rf"\d{{{run}}}"
            pieces.append(f"({digits})")
            units.append(_TIME_UNITS[letter])
        elif letter == "f":
            pieces.append(rf"(\d{{{run}}})")
            units.append(0.0)
        elif letter.isalnum():
            raise UserError(f"format {spec!r}: time layouts use h, m, s and f, not {letter!r}")
        else:
            pieces.append(regex.escape(letter * run))
        i += run
    if not units or units[0] == 0.0:
        raise UserError(f"format {spec!r}: a time layout starts with h, m or s (like m:ss.fff)")
    pattern = "".join(pieces)
    compiled = regex.compile(pattern)

    def seconds(text: str) -> float | None:
        match = compiled.fullmatch(text)
        if match is None:
            return None
        total = 0.0
        for group, unit in zip(match.groups(), units):
            total += int(group) * unit if unit else int(group) / 10 ** len(group)
        return total

    required = "".join(dict.fromkeys(ch for ch in layout if ch not in "hmsf"))
    return NumberFormat(spec, pattern, seconds, required)


def parse_format(spec: str) -> NumberFormat:
    """A format from its name: `int`, `signed`, `decimal` / `decimal:N`, `signed-decimal[:N]`, `percent[:N]`,
    `time` / `time:m:ss.fff` (value in seconds), or `re:<regex>` (value when the text is a number)."""
    name, _, argument = spec.strip().partition(":")
    if name == "re":
        if not argument:
            raise UserError("format 're:' needs a regular expression after the colon")
        return NumberFormat(spec, argument)
    if name == "time":
        return _time_format(spec, argument or "m:ss")
    places = ""
    if name in ("decimal", "signed-decimal", "percent") and argument:
        if not argument.isdigit() or not 0 < int(argument) <= 9:
            raise UserError(f"format {spec!r}: the number of decimal places is 1 to 9, got {argument!r}")
        places = argument
    elif argument:
        raise UserError(f"format {spec!r}: {name!r} takes no argument")
    fraction = rf"\.\d{{{places}}}" if places else r"(\.\d+)?"
    patterns = {
        "int": (r"\d+", ""),
        "signed": (r"-?\d+", ""),
        "decimal": (r"\d+" + (rf"\.\d{{{places}}}" if places else r"\.\d+"), "."),
        "signed-decimal": (r"-?\d+" + (rf"\.\d{{{places}}}" if places else r"\.\d+"), "."),
        "percent": (r"-?\d+" + fraction + "%", "%" + ("." if places else "")),
    }
    if name not in patterns:
        raise UserError(f"unknown format {spec!r} (use int, signed, decimal:N, signed-decimal:N, percent, "
                        "time:m:ss.fff or re:REGEX)")
    pattern, required = patterns[name]
    return NumberFormat(spec, pattern, _parse_number, required)


# ---------------------------------------------------------------- decoding

@dataclass(frozen=True)
class Decoded:
    """A best-path reading: its text, the text's probability, each character's, and the runner-up."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    alternative: str | None = None
    alternative_confidence: float = 0.0


NO_SYMBOL, PAST_THE_END = 0, 1  # the two columns after the classes in `decode_best_paths`' table: 0.0 and 1.0


@functools.lru_cache(maxsize=64)
def _row_offsets(steps: int, batch: int, width: int) -> np.ndarray:
    """Where each (frame, item) row of a (steps, batch, width) table starts in the flattened table."""
    offsets = np.arange(0, steps * batch * width, width).reshape(steps, batch)
    offsets.setflags(write=False)
    return offsets


def _allowed_symbols(previous: np.ndarray, path: np.ndarray, following: np.ndarray, classes: int) -> np.ndarray:
    """For each frame of a path, given its symbol and its neighbours' (-1 before the first frame and past an
    item's end): the symbols it may hold without changing the path's text, (3, ...): the path's own, then up
    to two more, each absent one given as the class that follows the last (`classes + NO_SYMBOL`).

    A frame may hold its own symbol; a character at the edge of a run of two or more may also be the blank or
    the differing neighbour; a blank may be a neighbouring character (unless it is the only blank between two
    equal characters). The product of these symbols' probabilities over the frames is the text's probability
    up to paths that change two neighbouring frames at once: the best path alone undercounts it by far
    whenever a frame is torn between a digit and the blank beside it."""
    none = classes + NO_SYMBOL
    same_as_previous = previous == path
    previous_char, following_char = previous > 0, following > 0
    edge = (path > 0) & (same_as_previous ^ (following == path))
    blank_may_switch = ((path == BLANK) & (previous_char | following_char)
                        & ~((previous == following) & previous_char))
    other = np.where(same_as_previous, following, previous)
    symbols = np.empty((3, *path.shape), dtype=np.intp)
    symbols[0] = path
    symbols[1] = np.where(edge, BLANK, np.where(blank_may_switch & previous_char, previous, none))
    symbols[2] = np.where(edge & (other > 0), other,
                          np.where(blank_may_switch & following_char & (following != previous), following, none))
    return symbols


TABULATED_CLASSES = 64  # up to this many classes, `_allowed_symbols` is looked up (a table of 3 x 65^3 entries)


@functools.lru_cache(maxsize=8)
def _symbol_table(classes: int) -> np.ndarray:
    """`_allowed_symbols` of every (previous, own, following) triple, flattened to (3, (classes + 1) ** 3), the
    triple (p, s, f) at ((p + 1) * (classes + 1) + s + 1) * (classes + 1) + f + 1: one look-up per frame
    instead of some twenty array operations, which cost more than the arithmetic on a crop's few frames."""
    previous, path, following = np.meshgrid(*[np.arange(-1, classes)] * 3, indexing="ij")
    table = _allowed_symbols(previous.ravel(), path.ravel(), following.ravel(), classes).astype(np.int16)
    table.setflags(write=False)
    return table


def _path_symbols(padded: np.ndarray, classes: int) -> np.ndarray:
    """`_allowed_symbols` of each frame of paths padded with a -1 frame before and after, (3, T, B)."""
    if classes > TABULATED_CLASSES:
        return _allowed_symbols(padded[:-2], padded[1:-1], padded[2:], classes)
    shifted = padded + 1
    size = classes + 1
    return _symbol_table(classes)[:, (shifted[:-2] * size + shifted[1:-1]) * size + shifted[2:]]


def decode_best_paths(log_probs: np.ndarray, lengths: np.ndarray, charset: Charset) -> list[Decoded]:
    """Best-path decoding of a (T, B, C) batch, all items at once: each item's text, the text's probability
    (see `_path_symbols`), each character's probability (the highest of the frames that emit it), and the
    runner-up: the text with one frame switched to the likeliest symbol that changes the text, at the frame
    where that symbol comes closest (its probability: the text's, with that frame's mass replaced)."""
    steps, batch, classes = log_probs.shape
    # The probabilities, with two more columns (0.0 for an absent symbol, 1.0 for a frame past an item's
    # end), looked up in one flat gather: each numpy call costs a microsecond on arrays this small.
    table = np.empty((steps, batch, classes + 2), dtype=np.float32)
    probabilities = table[:, :, :classes]
    np.exp(log_probs, out=probabilities)
    table[:, :, classes + NO_SYMBOL] = 0.0
    table[:, :, classes + PAST_THE_END] = 1.0
    padded = np.empty((steps + 2, batch), dtype=np.intp)
    padded[0] = padded[-1] = -1
    path = padded[1:-1]
    probabilities.argmax(axis=2, out=path)
    lengths = np.asarray(lengths)
    outside = np.arange(steps)[:, None] >= lengths[None, :] if np.minimum.reduce(lengths, initial=steps) < steps else None
    if outside is not None:
        path[outside] = -1
    symbols = _path_symbols(padded, classes)
    if outside is not None:
        symbols[0][outside] = classes + PAST_THE_END
    symbols = symbols + _row_offsets(steps, batch, classes + 2)  # (an int16 table's symbols become intp here)
    flat = table.reshape(-1)
    values = flat[symbols]
    frame_probabilities = values[0]
    # (ufuncs' own reductions: the array methods add a Python call each, a microsecond on arrays this small)
    masses = np.minimum(np.add.reduce(values, axis=0), 1.0)
    confidences = np.multiply.reduce(masses, axis=0)
    flat[symbols] = -1.0  # the allowed symbols out of `probabilities`: what is left are the rivals
    rivals = np.maximum.reduce(probabilities, axis=2)
    gap = frame_probabilities - rivals
    if outside is not None:
        gap[outside] = np.inf
    frame = gap.argmin(axis=0)
    items = np.arange(batch)
    has_alternative = (gap[frame, items] < 1.0).tolist()
    alternative_confidences = (confidences * rivals[frame, items] / masses[frame, items]).tolist()
    switched = probabilities[frame, items].argmax(axis=1).tolist()
    paths, frame_lists, switched_frames = path.T.tolist(), frame_probabilities.T.tolist(), frame.tolist()
    decoded = []
    for item, confidence in enumerate(confidences.tolist()):
        text, char_confidences = _collapse(paths[item], frame_lists[item], charset)
        alternative = None
        if has_alternative[item]:
            path_list = paths[item]
            path_list[switched_frames[item]] = switched[item]
            alternative = _collapse(path_list, frame_lists[item], charset)[0]
        decoded.append(Decoded(text, confidence, char_confidences, alternative,
                               alternative_confidences[item] if alternative is not None else 0.0))
    return decoded


def _collapse(path: list[int], frame_probabilities: list[float], charset: Charset
              ) -> tuple[str, tuple[float, ...]]:
    """CTC's collapse of a path (repeats merged, blanks dropped; -1 ends it), with each character's highest
    frame probability."""
    chars: list[str] = []
    confidences: list[float] = []
    previous = BLANK
    for symbol, probability in zip(path, frame_probabilities):
        if symbol < 0:
            break
        if symbol != BLANK:
            if symbol != previous:
                chars.append(charset.chars[symbol - 1])
                confidences.append(probability)
            elif probability > confidences[-1]:
                confidences[-1] = probability
        previous = symbol
    return "".join(chars), tuple(confidences)


def greedy_path(log_probs: np.ndarray, charset: Charset) -> tuple[str, float, list[float]]:
    """Best-path decoding of one (T, C) output: text, its probability, and each character's probability."""
    decoded = decode_best_paths(log_probs[:, None, :], np.array([len(log_probs)]), charset)[0]
    return decoded.text, decoded.confidence, list(decoded.char_confidences)


@dataclass
class _Beam:
    """A prefix's best path ending in a blank and ending in its last character (log-probabilities), and the
    character probabilities along each."""

    blank: float = -math.inf
    char: float = -math.inf
    blank_confidences: tuple[float, ...] = ()
    char_confidences: tuple[float, ...] = ()

    @property
    def score(self) -> float:
        return max(self.blank, self.char)

    @property
    def confidences(self) -> tuple[float, ...]:
        return self.blank_confidences if self.blank >= self.char else self.char_confidences


def constrained_candidates(log_probs: np.ndarray, charset: Charset, fmt: NumberFormat,
                           beam_width: int = BEAM_WIDTH) -> list[tuple[str, float, list[float]]]:
    """The best paths (one per text) whose text fits `fmt`, most probable first: (text, path probability,
    character probabilities). Empty when no path the beam kept fits."""
    beams: dict[str, _Beam] = {"": _Beam(blank=0.0)}
    viable: dict[str, bool] = {}
    for frame in log_probs:
        tried = np.flatnonzero(frame > _PRUNE).tolist()
        step: dict[str, _Beam] = {}
        for prefix, beam in beams.items():
            here = step.setdefault(prefix, _Beam())
            score = beam.score + float(frame[BLANK])
            if score > here.blank:
                here.blank, here.blank_confidences = score, beam.confidences
            last = charset.chars.index(prefix[-1]) + 1 if prefix else -1
            for c in tried:
                if c == BLANK:
                    continue
                probability = float(np.exp(frame[c]))
                if c == last:  # the same character again: continues it, or (after a blank) repeats it
                    score = beam.char + float(frame[c])
                    if score > here.char:
                        confidences = beam.char_confidences[:-1] + (max(beam.char_confidences[-1], probability),)
                        here.char, here.char_confidences = score, confidences
                    source, source_confidences = beam.blank, beam.blank_confidences
                else:
                    source, source_confidences = beam.score, beam.confidences
                if source == -math.inf:
                    continue
                extended = prefix + charset.chars[c - 1]
                if extended not in viable:
                    viable[extended] = fmt.could_become(extended)
                if not viable[extended]:
                    continue
                target = step.setdefault(extended, _Beam())
                score = source + float(frame[c])
                if score > target.char:
                    target.char, target.char_confidences = score, source_confidences + (probability,)
        beams = dict(sorted(step.items(), key=lambda item: item[1].score, reverse=True)[:beam_width])
    fitting = [(prefix, beam) for prefix, beam in beams.items() if fmt.fits(prefix)]
    fitting.sort(key=lambda item: item[1].score, reverse=True)
    return [(prefix, float(np.exp(beam.score)), list(beam.confidences)) for prefix, beam in fitting]


def decode_constrained(log_probs: np.ndarray, charset: Charset, fmt: NumberFormat
                       ) -> tuple[str, float, list[float]]:
    """The most probable path of a (T, C) output whose text fits `fmt`: (text, the text's probability,
    character probabilities). The greedy path when it fits (it is then the best); ("", 0.0, []) when nothing
    fits."""
    greedy = greedy_path(log_probs, charset)
    if fmt.fits(greedy[0]):
        return greedy
    candidates = constrained_candidates(log_probs, charset, fmt)
    if not candidates:
        return "", 0.0, []
    text, _, char_confidences = candidates[0]
    probability = text_probabilities(log_probs[:, None, :], np.array([len(log_probs)]), [charset.encode(text)], [0])
    return text, float(probability[0]), char_confidences


def text_probabilities(log_probs: np.ndarray, lengths: np.ndarray, targets: list[list[int]],
                       columns: list[int]) -> np.ndarray:
    """P(text | crop) for each target: the CTC forward sum over every path that spells it (not just the best
    one, which a frame torn between a digit and the blank beside it halves for no reason).

    `log_probs` is a (T, B, C) batch, `lengths` its items' time steps; target i (class indices) is scored
    against batch column `columns[i]`. All targets go through one vectorised pass over time."""
    count = len(targets)
    if count == 0:
        return np.zeros(0)
    states = 2 * max(len(target) for target in targets) + 1
    extended = np.zeros((count, states), dtype=np.int64)  # blank, c1, blank, c2, ..., blank (padded with blanks)
    for i, target in enumerate(targets):
        extended[i, 1:2 * len(target):2] = target
    spans = np.array([2 * len(target) + 1 for target in targets])
    can_skip = np.zeros((count, states), dtype=bool)  # a state may be entered from two back: a new character
    can_skip[:, 2:] = (extended[:, 2:] != BLANK) & (extended[:, 2:] != extended[:, :-2])
    items = np.asarray(columns)
    steps = np.minimum(np.asarray(lengths)[items], log_probs.shape[0])
    emissions = np.take_along_axis(log_probs[:, items, :], np.broadcast_to(extended, (log_probs.shape[0],) +
                                                                           extended.shape), axis=2)
    alpha = np.full((count, states), -np.inf)
    alpha[:, :2] = emissions[0, :, :2]
    alpha[spans == 1, 1] = -np.inf
    for t in range(1, int(steps.max(initial=0))):
        previous = np.concatenate((np.full((count, 1), -np.inf), alpha[:, :-1]), axis=1)
        two_back = np.concatenate((np.full((count, 2), -np.inf), alpha[:, :-2]), axis=1)
        step = np.logaddexp(np.logaddexp(alpha, previous), np.where(can_skip, two_back, -np.inf)) + emissions[t]
        alpha = np.where((t < steps)[:, None], step, alpha)
    rows = np.arange(count)
    last = alpha[rows, spans - 1]
    before_last = np.where(spans >= 2, alpha[rows, np.maximum(spans - 2, 0)], -np.inf)
    result = np.exp(np.logaddexp(last, before_last))
    result[steps == 0] = 0.0
    return result
