"""`digitocr generate` and `digitocr fonts`: the seed's TRDG commands run unchanged; bad input exits 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from digitocr.cli import main
from digitocr.labels import LABELS_FILE, read_labels_tsv
from digitocr.synth.fonts import installed_families

SEED_COMMANDS = [
    "-c 10000 --output_dir outputs -rs -num -w 1 -fi -im L -t 4",
    "-c 10000 --output_dir outputs -rs -num -w 1 -fi -im L -t 4 -rk -rbl -d 3 -do 2",
    "-ft fonts/custom/venus-rising-rg.ttf -c 10000 --output_dir outputs -rs -num -w 1 -fi -im L -t 4",
    "-ft FONT -c 10000 --output_dir outputs -rs -num -w 1 -fi -im L -cs -2 -t 4",
    "-ft FONT -c 5000 --output_dir outputs -rs -num -w 1 -fi -im L -t 4 -k 15",
    "-ft FONT -c 5000 --output_dir outputs -rs -num -w 1 -fi -im L -t 4 -k 345",
    "-ft FONT -c 10000 --output_dir outputs -rs -num -w 1 -fi -im L -t 4 -wd 100",
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a custom font, as the seed's `fonts/custom/...`."""
    custom = tmp_path / "fonts" / "custom"
    custom.mkdir(parents=True)
    shutil.copy(installed_families()["share-tech"].primary, custom / "venus-rising-rg.ttf")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", SEED_COMMANDS)
def test_seed_commands_run_unchanged(workdir: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = command.replace("FONT", "fonts/custom/venus-rising-rg.ttf").split()
    argv[argv.index("-c") + 1] = "24"  # the seed's counts, scaled down for a test
    assert main(["generate", *argv]) == 0
    entries = read_labels_tsv(workdir / "outputs" / LABELS_FILE)
    assert len(entries) == 24
    for name, label in [(path.name, label) for path, label in entries]:
        assert name.startswith(f"{label}_") and name.endswith(".jpg") and label.isdigit()
        image = Image.open(workdir / "outputs" / name)
        assert image.mode == "L" and image.height == 32
        if "-wd" in argv:
            assert image.width == 100
    assert "wrote 24 images" in capsys.readouterr().out


def test_contact_sheet(workdir: Path) -> None:
    assert main(["generate", "-c", "20", "--output_dir", "out", "-rs", "-num", "-fi", "--seed", "1",
                 "--contact-sheet", "sheets/sample.png"]) == 0
    sheet = Image.open(workdir / "sheets" / "sample.png")
    assert sheet.width > 8 * 30 and sheet.height > 3 * 32


@pytest.mark.parametrize(("flags", "message"), [
    (["-ft", "no-such-font"], "digitocr fonts"),
    (["-c", "0"], "count"),
    (["-c", "-5"], "count"),
    (["--label-length", "5-2"], "length"),
    (["--label-length", "0-2"], "length"),
    (["--charset="], "charset is empty"),
    (["-bl", "-1"], "blur"),
    (["--output_dir", "blocker/out"], "cannot write"),
    (["-i", "missing.txt"], "strings file"),
])
def test_bad_input_gives_one_line_and_exit_2(workdir: Path, flags: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "blocker").write_text("a file, not a folder")
    assert main(["generate", "-c", "5", "--output_dir", "out", *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("digitocr generate: error:") and message in error


def test_missing_glyph_fonts_are_skipped_with_a_warning(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "-c", "6", "--output_dir", "out", "--charset", "0½", "-ft", "orbitron",
                 "-ft", "roboto", "-e", "png"]) == 0
    assert "skipping font orbitron" in capsys.readouterr().err


def test_fonts_lists_sets_and_writes_a_picture(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fonts", "-o", "fonts.png", "fonts/custom"]) == 0
    out = capsys.readouterr().out
    assert "default (training set): 21" in out and "held out (evaluation): 4" in out
    assert "orbitron" in out and "bebas-neue" in out and "venus-rising-rg" in out
    assert Image.open(workdir / "fonts.png").height > 25 * 30
