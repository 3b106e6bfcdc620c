"""digitocr.labels: LABEL_anything.ext names and labels.tsv, with paths kept inside their folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitocr.errors import UserError
from digitocr.labels import (
    LABELS_FILE,
    label_from_name,
    labelled_name,
    list_labelled_files,
    read_labels_tsv,
    write_labels_tsv,
)


def test_names_carry_labels() -> None:
    assert label_from_name("151_09.png") == "151"
    assert label_from_name(Path("dir/4561.png")) == "4561"
    assert labelled_name("12", 7, "png") == "12_7.png"
    assert labelled_name("1/2", "a", ".jpg") == "1_2_a.jpg"
    assert label_from_name(labelled_name("305", 3, "png")) == "305"


def test_folder_without_labels_tsv_reads_names(tmp_path: Path) -> None:
    for name in ("2_b.png", "1_a.JPG", "notes.txt", "3.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "9_dir.png").mkdir()
    assert list_labelled_files(tmp_path) == [(tmp_path / "1_a.JPG", "1"), (tmp_path / "2_b.png", "2"),
                                             (tmp_path / "3.webp", "3")]
    with pytest.raises(UserError, match="no such folder"):
        list_labelled_files(tmp_path / "absent")


def test_labels_tsv_round_trip_and_takes_precedence(tmp_path: Path) -> None:
    (tmp_path / "5_x.png").write_bytes(b"")
    entries = [(tmp_path / "a.png", "42"), ("sub/b.png", "7 8"), (tmp_path / "c d.png", "")]
    write_labels_tsv(tmp_path / LABELS_FILE, entries)
    assert (tmp_path / LABELS_FILE).read_text(encoding="utf-8") == "a.png\t42\nsub/b.png\t7 8\nc d.png\t\n"
    expected = [(tmp_path / "a.png", "42"), (tmp_path / "sub" / "b.png", "7 8"), (tmp_path / "c d.png", "")]
    assert read_labels_tsv(tmp_path / LABELS_FILE) == expected
    assert list_labelled_files(tmp_path) == expected


@pytest.mark.parametrize("line", ["../outside.png\t1", "/etc/passwd\t1", "sub/../../x.png\t1", "..\\x.png\t1"])
def test_labels_tsv_paths_stay_inside_the_folder(tmp_path: Path, line: str) -> None:
    (tmp_path / LABELS_FILE).write_text(f"ok.png\t1\n{line}\n", encoding="utf-8")
    with pytest.raises(UserError, match=f"{LABELS_FILE}:2: .* is not a file inside"):
        read_labels_tsv(tmp_path / LABELS_FILE)


def test_malformed_labels_tsv(tmp_path: Path) -> None:
    manifest = tmp_path / LABELS_FILE
    manifest.write_text("a.png\t1\n\nno-tab-here\n", encoding="utf-8")
    with pytest.raises(UserError, match=f"{LABELS_FILE}:3: expected 'path<TAB>text'"):
        read_labels_tsv(manifest)
    manifest.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UserError, match="not UTF-8"):
        read_labels_tsv(manifest)


def test_writing_refuses_what_would_break_the_file_or_leave_the_folder(tmp_path: Path) -> None:
    manifest = tmp_path / "data" / LABELS_FILE
    with pytest.raises(UserError, match="tab or a line break"):
        write_labels_tsv(manifest, [("a.png", "1\t2")])
    with pytest.raises(UserError, match="is not inside"):
        write_labels_tsv(manifest, [(tmp_path / "elsewhere.png", "1")])
    with pytest.raises(UserError, match="is not a file inside"):
        write_labels_tsv(manifest, [("../up.png", "1")])
    assert not manifest.exists()
