"""Atomic file writing, shared by every module that writes: readers never see half a file, a run killed
mid-write leaves the previous file (or none) in place, and a write that fails (read-only folder, full disk,
a file where a folder should be) is a one-line `UserError` naming the path, with nothing half-written left."""

from __future__ import annotations

import contextlib
import errno
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
    """Write `data` so that `path` only ever shows the old file or the whole new one. The folder must exist.

    This is the generator's hot path. On Linux the data goes into an unnamed file in the folder (O_TMPFILE),
    which is then linked in under its name: one directory operation per file instead of a create and a
    rename, and directory operations are what two generator processes writing into one folder wait on
    (1.8x the files per second here). Elsewhere, or when `path` exists, a temporary file beside it is
    renamed over it."""
    try:
        if not _link_unnamed_file(path, data):
            _rename_temporary_file(path, data)
    except OSError as error:
        raise cannot_write(path, error) from None


_UNNAMED_FILES = getattr(os, "O_TMPFILE", 0) and os.path.isdir("/proc/self/fd")


def _link_unnamed_file(path: Path | str, data: bytes) -> bool:
    """False where unnamed files are not supported (or `path` exists): nothing was written then."""
    if not _UNNAMED_FILES:
        return False
    try:
        descriptor = os.open(os.path.dirname(path) or ".", os.O_TMPFILE | os.O_WRONLY, 0o666)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):  # the file system has none
            return False
        raise
    try:
        _write_all(descriptor, data)
        # linkat(AT_SYMLINK_FOLLOW) through /proc; a dir_fd argument makes os.link use linkat (the path is
        # absolute, so which descriptor does not matter)
        os.link(f"/proc/self/fd/{descriptor}", path, src_dir_fd=descriptor)
    except OSError as error:
        if error.filename is None and error.filename2 is None:
            raise  # from writing the data: a full disk, a quota
        return False  # `path` exists, or linking through /proc is not allowed here: the other way decides
    finally:
        os.close(descriptor)  # an unnamed file that was not linked vanishes here
    return True


def _rename_temporary_file(path: Path | str, data: bytes) -> None:
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            _write_all(descriptor, data)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


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
