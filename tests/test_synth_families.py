"""The general model's font sets: disjoint, wide, resolvable as font specs, and a clear error when absent."""

from __future__ import annotations

import pytest

from digitocr.errors import UserError
from digitocr.synth.families import EVALUATION_FAMILIES, GENERAL_FAMILIES, require_installed
from digitocr.synth.fonts import DEFAULT_FAMILIES, HELDOUT_FAMILIES, resolve_fonts


def test_training_and_evaluation_sets_are_disjoint_and_cover_the_old_ones() -> None:
    assert len(GENERAL_FAMILIES) >= 120 and len(set(GENERAL_FAMILIES)) == len(GENERAL_FAMILIES)
    assert not set(GENERAL_FAMILIES) & set(EVALUATION_FAMILIES)
    assert set(DEFAULT_FAMILIES) <= set(GENERAL_FAMILIES)
    assert set(HELDOUT_FAMILIES) <= set(EVALUATION_FAMILIES)


def test_a_missing_package_names_itself_and_the_fix() -> None:
    with pytest.raises(UserError, match=r"fontpkg-play.*digitocr\[fonts\]"):
        require_installed("evaluation", set(EVALUATION_FAMILIES) - {"play"})


def test_the_evaluation_set_resolves_as_a_font_spec() -> None:
    sources = resolve_fonts(["evaluation"], "0123456789.-:,%/", lambda message: None)
    assert [source.name for source in sources] == list(EVALUATION_FAMILIES)
