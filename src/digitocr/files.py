"""Atomic file writing, shared by every module that writes: readers never see half a file, a run killed
mid-write leaves the previous file (or none) in place, and a write that fails (read-only folder, full disk,
a file where a folder should be) is a one-line `UserError` naming the path, with nothing half-written left."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from digitocr.errors import UserError


def cannot_write(path: Path | str, error: OSError) -> UserError:
    """The user-facing message for a failed write."""
    return UserError(f"cannot write {path}: {error.strerror or error}")


def make_folder(folder: Path | str) -> Path:
    """`folder` and its parents, created if absent (UserError when that is impossible)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cannot_write(folder, error) from None
    return folder


def check_output(target: str, overwrite: bool = False) -> None:
    """UserError unless `target` can be written: '-' (standard output), a new file in an existing folder, an
    existing file with `overwrite`, or a named pipe. Checked before any work, so no command replaces a file
    the user named by mistake (`eval --csv crop.png`)."""
    if target == "-":
        return
    path = Path(target)
    if path.is_dir():
        raise UserError(f"cannot write {target}: it is a folder; give a file name")
    if path.is_file() and not overwrite:
        raise UserError(f"{target} exists (add --overwrite to replace it)")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {target}: no folder {path.parent}")


def check_output_folder(folder: Path | str, marker: str, what: str, overwrite: bool = False) -> None:
    """UserError unless `folder` is new, empty, or (with `overwrite`) holds an earlier output of the same
    kind (its `marker` file) or anything else: a command never pours its files among the user's unasked."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"cannot write {folder}: it is a file, not a folder")
    if overwrite or not folder.is_dir() or not any(folder.iterdir()):
        return
    if (folder / marker).is_file():
        raise UserError(f"{folder} already holds {what}: choose another folder or pass --overwrite")
    raise UserError(f"{folder} holds other files: give a new or empty folder for {what} (or --overwrite to "
                    "write among them)")


def write_atomically(path: Path | str, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename. The folder must exist: this is the
    generator's hot path, so it costs one open, one write and one rename."""
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(error, OSError):
            raise cannot_write(path, error) from None
        raise


def write_text_atomically(path: Path | str, text: str) -> None:
    """UTF-8 text, atomically, creating the folder."""
    make_folder(Path(path).parent)
    write_atomically(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for writers that want a file name (safetensors, matplotlib);
    on success it replaces `path` in one rename."""
    make_folder(path.parent)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as error:
        raise cannot_write(path, error) from None
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise cannot_write(path, error) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


@contextlib.contextmanager
def removed_on_failure(folder: Path | str) -> Iterator[Path]:
    """`folder`, created if absent; if the block fails with an error, whatever it added there is removed
    (the folder too, when this made it), so a failed command leaves no half-made output beside the user's
    files. Entries that were there before stay (a file replaced on purpose, `--overwrite`, stays replaced).
    Ctrl-C is not a failure: commands that stop on it keep what they finished."""
    folder = Path(folder)
    made = next((path for path in reversed([folder, *folder.parents]) if not path.exists()), None)
    make_folder(folder)
    before = set(os.listdir(folder))
    try:
        yield folder
    except Exception:
        with contextlib.suppress(OSError):
            if made is not None:
                shutil.rmtree(made)
            else:
                for name in set(os.listdir(folder)) - before:
                    path = folder / name
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        raise
