"""Labelled folders: `LABEL_anything.ext` file names (the seed's and TRDG's convention) and `labels.tsv`
(one `path<TAB>text` line per image, paths relative to the file's folder).

A labels.tsv names files inside its own folder only: an absolute path or a `../` is refused, so a
folder copied from elsewhere can never make a reader (or a writer) touch files outside it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from digitocr.errors import UserError
from digitocr.files import write_text_atomically
from digitocr.images import IMAGE_EXTENSIONS

LABELS_FILE = "labels.tsv"


def label_from_name(path: Path | str) -> str:
    """The text an image shows, from its name: "151_09.png" -> "151" (and "4561.png" -> "4561")."""
    return Path(path).stem.split("_", 1)[0]


def safe_label(label: str) -> str:
    """The label as it may appear in a file name: path separators and NUL become '_'."""
    return label.replace("/", "_").replace("\\", "_").replace("\0", "_")


def labelled_name(label: str, ident: str | int, extension: str) -> str:
    """`LABEL_IDENT.EXT`, the name `label_from_name` reads back (for labels without '_')."""
    return f"{safe_label(label)}_{ident}.{extension.lstrip('.')}"


def list_labelled_files(folder: Path | str) -> list[tuple[Path, str]]:
    """(image path, label) pairs of a folder: from its labels.tsv if there is one, else from file names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    manifest = folder / LABELS_FILE
    if manifest.is_file():
        return read_labels_tsv(manifest)
    return [(path, label_from_name(path)) for path in sorted(folder.iterdir())
            if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()]


def read_text_file(path: Path | str, what: str = "") -> str:
    """A user's text file (labels, strings): UTF-8, without the BOM Windows editors put first; a UserError
    naming the file (`what` says which, e.g. 'strings file') when it cannot be read or is not UTF-8."""
    named = f"{what} {path}".strip()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise UserError(f"cannot read {named}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{named} is not UTF-8 text") from None


def read_labels_tsv(path: Path | str) -> list[tuple[Path, str]]:
    """(image path, label) pairs of a labels.tsv, each path inside the file's folder; blank lines skipped."""
    path = Path(path)
    text = read_text_file(path)
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, tab, label = line.partition("\t")
        if not tab or not name:
            raise UserError(f"{path}:{number}: expected 'path<TAB>text'")
        entries.append((_inside(path.parent, name, f"{path}:{number}"), label))
    return entries


def write_labels_tsv(path: Path | str, entries: Iterable[tuple[Path | str, str]]) -> None:
    """Write a labels.tsv atomically; each path is written relative to its folder and must lie inside it."""
    path = Path(path)
    lines = []
    for image, label in entries:
        if any(char in f"{image}{label}" for char in "\t\r\n"):
            raise UserError(f"{image!s:.60}: a tab or a line break in a name or label ({label!r}) would break {path}")
        if isinstance(image, str) and _plain_name(image):  # the generator's hot case: a bare file name
            lines.append(f"{image}\t{label}\n")
            continue
        image = Path(image)
        try:
            relative = image.relative_to(path.parent) if image.is_absolute() else image
        except ValueError:
            raise UserError(f"{image} is not inside {path.parent}, the folder of {path.name}") from None
        _inside(path.parent, str(relative), str(path))
        lines.append(f"{relative.as_posix()}\t{label}\n")
    write_text_atomically(path, "".join(lines))


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _inside(folder: Path, name: str, where: str) -> Path:
    relative = os.path.normpath(name.replace("\\", "/"))
    if os.path.isabs(relative) or relative == ".." or relative.startswith("../") or relative == ".":
        raise UserError(f"{where}: {name!r} is not a file inside {folder}")
    return folder / relative
