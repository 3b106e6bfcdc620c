"""Fixtures shared by the test modules, which never import one another (plain helpers live in modules of
their own: digit_images, glyph_crops, model_folders, desktop, real_data, serve_process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from desktop import virtual_desktop
from glyph_crops import regular
from real_data import REAL

from digitocr.synth.fonts import FontFile


@pytest.fixture(scope="session")
def font() -> FontFile:
    """roboto-mono at one weight: every rendering of a glyph has the same shape."""
    return regular("roboto-mono")


@pytest.fixture(scope="session")
def release_model_dir() -> Path:
    """A model folder written by release 0.1.0 (`digitocr train --steps 3`), with outputs it must keep giving."""
    return Path(__file__).parent / "fixtures" / "model-0.1.0"


@pytest.fixture(scope="module")
def display():
    """A virtual desktop with a window manager; DISPLAY points at it for the module's tests."""
    before = os.environ.get("DISPLAY")
    with virtual_desktop() as name:
        os.environ["DISPLAY"] = name
        try:
            yield name
        finally:
            if before is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = before


@pytest.fixture(scope="session")
def seed_fit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model fitted from scratch (a `tiny` network) on the six refined seed crops in 80 s, shared by the tests
    that need one reading the game; kept under the session's base folder so every module that asks gets the
    same run."""
    if not (REAL / "seed-refined").is_dir():
        pytest.skip(f"{REAL} is absent")
    from digitocr.fit import SCRATCH, fit

    run = tmp_path_factory.getbasetemp() / "seed-fit"
    if not (run / "fit.json").is_file():
        fit(REAL / "seed-refined", run, time_limit=80, holdout=REAL / "seed-raw", seed=0, start=SCRATCH)
    return run
