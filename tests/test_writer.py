"""Writing datasets: files, labels and manifest agree; same seed, same bytes; Ctrl-C leaves complete files."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import cv2
import pytest

from digitocr.errors import UserError
from digitocr.labels import LABELS_FILE, read_labels_tsv
from digitocr.synth.flags import parse_generator_args
from digitocr.synth.options import GeneratorConfig
from digitocr.synth.writer import write_dataset


def parse(flags: str) -> GeneratorConfig:
    return parse_generator_args(flags.split())


def test_dataset_files_labels_and_manifest_agree(tmp_path: Path) -> None:
    manifest = write_dataset(parse("-rs -num -fi -im L -e png --seed 4"), tmp_path, 40)
    entries = [(path.name, label) for path, label in read_labels_tsv(manifest)]
    assert len(entries) == 40
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([LABELS_FILE] + [n for n, _ in entries])
    for index, (name, label) in enumerate(entries):
        assert name == f"{label}_{index}.png"
        image = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 2 and image.shape[0] == 32


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    config = parse("-rs -num -w 1 -fi -im L -rk -k 5 -rbl -bl 1 -d 3 --seed 11")
    one = write_dataset(config, tmp_path / "one", 60, workers=1)
    two = write_dataset(config, tmp_path / "two", 60, workers=2)
    assert one.read_bytes() == two.read_bytes()
    for path, _ in read_labels_tsv(one):
        assert path.read_bytes() == (two.parent / path.name).read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupt_leaves_complete_files_listed_in_the_manifest(tmp_path: Path, workers: int) -> None:
    interrupted: list[int] = []

    def interrupt_once(done: int, total: int) -> None:
        if not interrupted:
            interrupted.append(done)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        write_dataset(parse("-rs -num --seed 1"), tmp_path, 5000, workers,
                      on_progress=interrupt_once)
    names = {path.name for path, _ in read_labels_tsv(tmp_path / LABELS_FILE)}
    on_disk = {path.name for path in tmp_path.iterdir()} - {LABELS_FILE}
    assert names == on_disk and 0 < len(names) < 5000
    for name in names:
        assert cv2.imread(str(tmp_path / name)) is not None


def test_dataset_errors(tmp_path: Path) -> None:
    config = GeneratorConfig()
    with pytest.raises(UserError, match="count"):
        write_dataset(config, tmp_path, 0)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write"):
        write_dataset(config, blocker / "out", 5)


def test_a_folder_of_labelled_images_is_never_clobbered(tmp_path: Path) -> None:
    from digit_images import write_folder

    real = write_folder(tmp_path, ["12", "345", "6"])
    config = parse("-rs -num -e png --seed 2")
    with pytest.raises(UserError, match="already holds 3 labelled image"):
        write_dataset(config, tmp_path, 2)
    assert not (tmp_path / LABELS_FILE).exists()
    contents = {path: path.read_bytes() for path in real}
    manifest = write_dataset(config, tmp_path, 2, append=True)
    entries = read_labels_tsv(manifest)
    assert [path for path, _ in entries[:3]] == real and len(entries) == 5
    assert [path.name.rsplit("_", 1)[1] for path, _ in entries[3:]] == ["3.png", "4.png"]  # after 12_0 ... 6_2
    assert {path: path.read_bytes() for path in real} == contents
    again = read_labels_tsv(write_dataset(config, tmp_path, 1, append=True))
    assert len(again) == 6 and again[-1][0].name.endswith("_5.png")
    assert len(read_labels_tsv(write_dataset(config, tmp_path, 2, overwrite=True))) == 2
    with pytest.raises(UserError, match="exclude each other"):
        write_dataset(config, tmp_path, 1, append=True, overwrite=True)


@pytest.mark.parametrize(("flags", "message"), [("--seed -3", "seed must not be negative"),
                                                ("-cs -500", "out of order"),
                                                ("--range 1-9 -i strings.txt", "not both")])
def test_contradictory_or_negative_generator_options(flags: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse(flags)
