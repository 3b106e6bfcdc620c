"""LabelFolder without a browser: what waits, renames that never replace, undo, pages, the lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from digit_images import draw_digits

from digitocr.errors import UserError
from digitocr.label.app import presentation_order
from digitocr.label.folder import Conflict, LabelFolder, LabelRule
from digitocr.labels import list_labelled_files


def folder_of(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "crops"
    folder.mkdir()
    for name in names:
        draw_digits("12").save(folder / name)
    return folder


def test_waiting_crops_names_store_and_undo(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, ["151_00.png", "000123.png", "frame_7.png"])
    (folder / "151_000123.png").write_bytes(b"someone else's file")  # the name 000123 would get
    labels = LabelFolder.open(folder, LabelRule("0123456789"))
    try:
        assert labels.labelled_before == 2 and labels.not_images == []
        assert [c.path.name for c in labels.crops] == ["000123.png", "frame_7.png"]  # 151_*: labelled
        labels.claim("page")
        crop = labels.label("page", 0, "151")
        assert crop.path.name == "151_000123-2.png"
        assert (folder / "151_000123.png").read_bytes() == b"someone else's file"
        with pytest.raises(Conflict, match="already labelled"):
            labels.label("page", 0, "152")
        with pytest.raises(ValueError, match="not in the charset"):
            labels.label("page", 1, "1a")
        assert labels.undo("page", 0).path == folder / "000123.png" and (folder / "000123.png").is_file()
        assert labels.label("page", 0, "7").path.name == "7_000123.png"
    finally:
        labels.close()
    underscores = LabelFolder.open(folder, LabelRule("0123456789_"))
    try:
        underscores.claim("page")
        with pytest.raises(ValueError, match="file name"):
            underscores.label("page", underscores.crops[-1].id, "1_2")
    finally:
        underscores.close()


def test_tsv_store_format_rule_undo_and_pages(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, ["a.png", "b.png", "c.png"])
    (folder / "labels.tsv").write_text("a.png\t5\n")
    rule = LabelRule("0123456789-", pattern=r"-?\d+", format_name="signed")
    labels = LabelFolder.open(folder, rule)
    try:
        assert labels.store == "tsv" and [c.path.name for c in labels.crops] == ["b.png", "c.png"]
        labels.claim("first")
        labels.label("first", 0, "-12")
        with pytest.raises(ValueError, match="does not fit the format signed"):
            labels.label("first", 1, "1-2")
        labels.unreadable("first", 1)
        assert (folder / "unreadable" / "c.png").is_file()
        labels.claim("second")
        with pytest.raises(Conflict, match="another page"):
            labels.undo("first", 1)
        labels.undo("second", 1)
        labels.undo("second", 0)
        assert list_labelled_files(folder) == [(folder / "a.png", "5")]
        assert sorted(p.name for p in folder.glob("*.png")) == ["a.png", "b.png", "c.png"]
        with pytest.raises(Conflict, match="nothing of that crop"):
            labels.undo("second", 0)
    finally:
        labels.close()


def test_one_process_per_folder(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, ["a.png"])
    first = LabelFolder.open(folder, LabelRule("0123456789"), address="http://127.0.0.1:8000/")
    try:
        with pytest.raises(UserError, match=r"already open for labelling \(pid \d+ http://127.0.0.1:8000/\)"):
            LabelFolder.open(folder, LabelRule("0123456789"))
    finally:
        first.close()
    LabelFolder.open(folder, LabelRule("0123456789")).close()  # free again once closed
    with pytest.raises(UserError, match="no such folder"):
        LabelFolder.open(tmp_path / "absent", LabelRule("0123456789"))


def test_presentation_order_broken_first_then_least_confident(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, ["a.png", "b.png", "c.png", "d.png"])
    labels = LabelFolder.open(folder, LabelRule("0123456789"))
    try:
        for crop, confidence in zip(labels.crops, (0.9, 0.2, None, 0.5)):
            crop.confidence = confidence
        labels.crops[3].error = "cannot decode"
        assert [c.path.name for c in presentation_order(labels.crops)] == ["d.png", "c.png", "b.png", "a.png"]
    finally:
        labels.close()


def given(folder: Path) -> dict[str, str]:
    return {path.name: label for path, label in list_labelled_files(folder)}


@pytest.mark.parametrize("store", ["names", "tsv"])
def test_review_confirms_or_corrects_labels_already_given(tmp_path: Path, store: str) -> None:
    """`watch --save-doubtful` names its crops after the guess (`151_speed-<stamp>.png`): reviewing shows them
    pre-filled; Enter keeps a right guess, a correction renames the file (or rewrites labels.tsv), undo
    restores."""
    folder = folder_of(tmp_path, ["151_speed-1.png", "15_speed-2.png", "capture.png"])
    if store == "tsv":
        (folder / "labels.tsv").write_text("151_speed-1.png\t151\n15_speed-2.png\t15\n")
    labels = LabelFolder.open(folder, LabelRule("0123456789"), review=True)
    try:
        assert [(c.path.name, c.label) for c in labels.crops] == [
            ("151_speed-1.png", "151"), ("15_speed-2.png", "15"), ("capture.png", "")]
        labels.claim("page")
        assert labels.label("page", 0, "151").path.name == "151_speed-1.png"
        corrected = "157_speed-2.png" if store == "names" else "15_speed-2.png"
        assert labels.label("page", 1, "157").path.name == corrected and given(folder)[corrected] == "157"
        labels.undo("page", 1)
        assert given(folder)["15_speed-2.png"] == "15"
        labels.unreadable("page", 1)
        assert "15_speed-2.png" not in given(folder)
        labels.undo("page", 1)
        assert given(folder)["15_speed-2.png"] == "15" and given(folder)["151_speed-1.png"] == "151"
    finally:
        labels.close()
