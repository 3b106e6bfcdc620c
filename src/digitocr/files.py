"""Atomic file writing, shared by every module that writes: readers never see half a file, and a run
killed mid-write leaves the previous file (or none) in place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_atomically(path: Path | str, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename. The folder must exist: this is the
    generator's hot path, so it costs one open, one write and one rename."""
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_text_atomically(path: Path | str, text: str) -> None:
    """UTF-8 text, atomically, creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for writers that want a file name (safetensors, matplotlib);
    on success it replaces `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
