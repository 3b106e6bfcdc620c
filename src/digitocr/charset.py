"""Character sets and their CTC class numbers (decoding lives in digitocr.ctc).

Class 0 is the CTC blank, so a charset of N characters needs N + 1 network outputs: the seed's
NaN losses came from forgetting that extra class.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitocr.errors import UserError

DIGITS = "0123456789"
BLANK = 0


@dataclass(frozen=True)
class Charset:
    """An ordered set of characters; character i has class i + 1 (0 is the blank)."""

    chars: str = DIGITS

    def __post_init__(self) -> None:
        if not self.chars:
            raise UserError("the charset is empty")
        if len(set(self.chars)) != len(self.chars):
            raise UserError(f"the charset {self.chars!r} repeats characters")

    @property
    def num_classes(self) -> int:
        """Network outputs: one per character plus the blank."""
        return len(self.chars) + 1

    def missing(self, text: str) -> set[str]:
        """Characters of `text` this charset cannot encode."""
        return set(text) - set(self.chars)

    def encode(self, text: str) -> list[int]:
        """Class indices of `text` (no blanks); raises UserError on characters outside the charset."""
        unknown = self.missing(text)
        if unknown:
            raise UserError(f"{text!r} has characters outside the charset {self.chars!r}: "
                            f"{''.join(sorted(unknown))!r}")
        index = {char: i + 1 for i, char in enumerate(self.chars)}
        return [index[char] for char in text]
