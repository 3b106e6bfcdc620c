"""digitocr.files: every write is whole or absent, and never leaves temporary files behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitocr import files
from digitocr.errors import UserError
from digitocr.files import atomic_path, write_atomically, write_text_atomically


@pytest.fixture(params=["unnamed-file", "renamed-file"])
def write_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each write test runs both ways: Linux's unnamed file linked in, and the temporary file renamed."""
    if request.param == "renamed-file":
        monkeypatch.setattr(files, "_UNNAMED_FILES", False)
    elif not files._UNNAMED_FILES:
        pytest.skip("no O_TMPFILE here")
    return str(request.param)


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_writes_replace_whole_files(tmp_path: Path, write_mode: str) -> None:
    path = tmp_path / "data.bin"
    write_atomically(path, b"first")
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second" and leftovers(tmp_path) == []
    (tmp_path / "plain.bin").write_bytes(b"x")
    write_atomically(tmp_path / "fresh.bin", b"y" * 100_000)
    assert (tmp_path / "fresh.bin").read_bytes() == b"y" * 100_000
    assert (tmp_path / "fresh.bin").stat().st_mode == (tmp_path / "plain.bin").stat().st_mode
    write_text_atomically(tmp_path / "new" / "deeper" / "notes.txt", "höhe\n")
    assert (tmp_path / "new" / "deeper" / "notes.txt").read_text(encoding="utf-8") == "höhe\n"


def test_the_hot_path_needs_the_folder_to_exist(tmp_path: Path, write_mode: str) -> None:
    with pytest.raises(UserError, match="cannot write .*absent/x.bin: No such file"):
        write_atomically(tmp_path / "absent" / "x.bin", b"x")
    assert not (tmp_path / "absent").exists()


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old" and leftovers(tmp_path) == []
    with atomic_path(tmp_path / "sub" / "curves.png") as temporary:
        assert temporary.parent == tmp_path / "sub" and temporary.suffix == ".png"
        temporary.write_bytes(b"png")
    assert (tmp_path / "sub" / "curves.png").read_bytes() == b"png" and leftovers(tmp_path / "sub") == []


def test_failed_writes_are_one_line_errors_naming_the_path(tmp_path: Path, write_mode: str) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError, match="cannot write .*taken"):
        write_atomically(tmp_path / "taken", b"x")
    assert leftovers(tmp_path) == [] and (tmp_path / "taken").is_dir()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="cannot write .*a-file"):
        write_text_atomically(tmp_path / "a-file" / "under" / "notes.txt", "x")
    with pytest.raises(UserError, match="cannot write .*a-file"), atomic_path(tmp_path / "a-file" / "x.png"):
        pass


def test_a_refused_link_falls_back_to_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where linking an unnamed file in through /proc is not allowed (some sandboxes), writes still land."""
    if not files._UNNAMED_FILES:
        pytest.skip("no O_TMPFILE here")

    def refuse(source: str, target: object, **_: object) -> None:
        raise PermissionError(1, "Operation not permitted", source, None, str(target))

    monkeypatch.setattr(files.os, "link", refuse)
    write_atomically(tmp_path / "data.bin", b"landed")
    assert (tmp_path / "data.bin").read_bytes() == b"landed" and leftovers(tmp_path) == []
