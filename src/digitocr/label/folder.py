"""A folder being labelled: which crops wait for a label, and the file moves that label them.

Every change is one no-clobber rename or one atomic rewrite of `labels.tsv`, so a crash leaves every image
in the folder under exactly one name; undo reverses the last change exactly. One process holds a folder at a
time (an advisory lock file), and inside it one page at a time (the newest page owns the folder; an older
page's writes are refused), so two pages can never label the same crop twice or undo each other's work.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from digitocr.errors import UserError
from digitocr.images import IMAGE_EXTENSIONS
from digitocr.labels import LABELS_FILE, label_from_name, labelled_name, read_labels_tsv, write_labels_tsv

LOCK_FILE = ".digitocr-label.lock"
UNREADABLE_DIR = "unreadable"
STORES = ("names", "tsv")


class Conflict(Exception):
    """An action that would clobber someone's work (another page owns the folder, the crop changed)."""


@dataclass
class Crop:
    """One image waiting in the folder; `path` follows it through renames, `label` is what it got."""

    id: int
    path: Path
    original: Path
    reading: str = ""
    confidence: float | None = None
    error: str | None = None  # the image cannot be decoded
    state: str = "waiting"    # "waiting" | "labelled" | "unreadable"
    label: str = ""
    given: str | None = None  # reviewing: the label it had (its name's, or labels.tsv's)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.path.name, "reading": self.reading, "confidence": self.confidence,
                "error": self.error, "state": self.state, "label": self.label}


@dataclass
class LabelRule:
    """What a label may be: characters of the charset (None: any), and a full match of a format's regex."""

    charset: str | None
    pattern: str | None = None
    format_name: str | None = None

    def problem(self, text: str) -> str | None:
        """Why `text` is refused, or None."""
        if not text:
            return "the label is empty: type what the crop shows, or mark it unreadable"
        if self.charset is not None and (outside := sorted(set(text) - set(self.charset))):
            return f"{''.join(outside)!r} is not in the charset {self.charset!r}"
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            return f"{text!r} does not fit the format {self.format_name or self.pattern}"
        return None


@dataclass
class _Change:
    crop: Crop
    before: Path
    after: Path
    state: str
    previous: str | None  # the crop's label before the change (labels.tsv), None when it had none
    label: str | None     # its label after (None: out of labels.tsv)


@dataclass
class LabelFolder:
    """The crops of `folder` and the changes this process made to them (for undo)."""

    folder: Path
    store: str
    rule: LabelRule
    crops: list[Crop]
    not_images: list[str]
    labelled_before: int
    owner: str | None = None
    _changes: list[_Change] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _lock_file: int | None = None

    @classmethod
    def open(cls, folder: Path | str, rule: LabelRule, store: str | None = None,
             address: str = "", review: bool = False) -> LabelFolder:
        """Scan the folder and take its lock; UserError if it is missing, not writable or already open.
        `review` shows the labelled crops too, pre-filled with their labels (a guess to confirm or correct,
        as `watch --save-doubtful` names its crops)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"no such folder: {folder}")
        if store is None:
            store = "tsv" if (folder / LABELS_FILE).is_file() else "names"
        if store not in STORES:
            raise UserError(f"--store must be one of {', '.join(STORES)}, not {store!r}")
        descriptor = _take_lock(folder, address)
        try:
            labelled = {path.name: label for path, label in read_labels_tsv(folder / LABELS_FILE)} \
                if (folder / LABELS_FILE).is_file() else {}
            crops: list[Crop] = []
            not_images: list[str] = []
            before = 0
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".") or not path.is_file() or path.name == LABELS_FILE:
                    continue
                if path.suffix.lower() not in IMAGE_EXTENSIONS:
                    not_images.append(path.name)
                    continue
                given = labelled.get(path.name) if store == "tsv" else \
                    label_from_name(path) if _named_label(path, rule) else None
                if given is not None and not review:
                    before += 1
                else:
                    crops.append(Crop(len(crops), path, path, label=given or "", given=given))
        except BaseException:
            _release_lock(folder, descriptor)
            raise
        return cls(folder, store, rule, crops, not_images, before, _lock_file=descriptor)

    def close(self) -> None:
        if self._lock_file is not None:
            _release_lock(self.folder, self._lock_file)
            self._lock_file = None

    def claim(self, page: str) -> None:
        """The newest page owns the folder; the pages before it can no longer write."""
        with self._lock:
            self.owner = page

    def label(self, page: str, crop_id: int, text: str) -> Crop:
        """Give a waiting crop its label: rename it LABEL_ID.ext, or add it to labels.tsv."""
        if problem := self.rule.problem(text):
            raise ValueError(problem)
        with self._lock:
            crop = self._waiting(page, crop_id)
            if crop.error:
                raise ValueError(f"{crop.path.name} cannot be decoded: mark it unreadable or skip it")
            after = crop.path
            if self.store == "names" and text != crop.given:
                if "_" in text or "/" in text or text in (".", ".."):
                    raise ValueError(f"{text!r} cannot be written into a file name: label with --store tsv")
                ident = crop.path.stem.partition("_")[2] if crop.given is not None else crop.path.stem
                name = labelled_name(text, ident, crop.path.suffix)
                after = move_without_replacing(crop.path, self.folder / name)
            return self._record(_Change(crop, crop.path, after, "labelled", crop.given, text))

    def unreadable(self, page: str, crop_id: int) -> Crop:
        """Move a crop nobody can read into unreadable/, out of the labelled data but not lost."""
        with self._lock:
            crop = self._waiting(page, crop_id)
            (self.folder / UNREADABLE_DIR).mkdir(exist_ok=True)
            after = move_without_replacing(crop.path, self.folder / UNREADABLE_DIR / crop.path.name)
            return self._record(_Change(crop, crop.path, after, "unreadable", crop.given, None))

    def undo(self, page: str, crop_id: int) -> Crop:
        """Reverse the last change, which must be the one the page means (`crop_id`)."""
        with self._lock:
            self._check_owner(page)
            if not self._changes or self._changes[-1].crop.id != crop_id:
                raise Conflict("nothing of that crop to undo: the last change was another one")
            change = self._changes.pop()
            crop = change.crop
            if change.before != change.after:
                move_without_replacing(change.after, change.before, exact=True)
            self._retag(change.after, change.before, change.previous)
            crop.path, crop.state, crop.label = change.before, "waiting", change.label or ""
            return crop

    def counts(self) -> dict[str, int]:
        states = [crop.state for crop in self.crops]
        return {"total": len(self.crops), "labelled_before": self.labelled_before,
                "labelled": states.count("labelled"), "unreadable": states.count("unreadable"),
                "waiting": states.count("waiting")}

    def _waiting(self, page: str, crop_id: int) -> Crop:
        self._check_owner(page)
        if not 0 <= crop_id < len(self.crops):
            raise KeyError(crop_id)
        crop = self.crops[crop_id]
        if crop.state != "waiting":
            raise Conflict(f"{crop.original.name} is already {crop.state}")
        if not crop.path.is_file():
            raise Conflict(f"{crop.path.name} is no longer in the folder")
        return crop

    def _record(self, change: _Change) -> Crop:
        """Note a change made on disk (and in labels.tsv) so that undo can reverse it."""
        self._retag(change.before, change.after, change.label)
        self._changes.append(change)
        crop = change.crop
        crop.path, crop.state, crop.label = change.after, change.state, change.label or ""
        return crop

    def _retag(self, old: Path, new: Path, label: str | None) -> None:
        """labels.tsv: the entry of `old` goes; `new` gets `label` (None: no entry)."""
        if self.store == "tsv":
            kept = [(new, label)] if label is not None else []
            self._write_tsv(lambda entries: [entry for entry in entries if entry[0] != old] + kept)

    def _check_owner(self, page: str) -> None:
        if page != self.owner:
            raise Conflict("this folder is now open in another page: continue there, or reload this one")

    def _write_tsv(self, change: Callable[[list[tuple[Path, str]]], list[tuple[Path, str]]]) -> None:
        path = self.folder / LABELS_FILE
        entries = read_labels_tsv(path) if path.is_file() else []
        write_labels_tsv(path, change(entries))


def _named_label(path: Path, rule: LabelRule) -> bool:
    """`LABEL_ID.ext` with a label the rule accepts (a bare `000123.png` is a capture, not a label)."""
    return "_" in path.stem and rule.problem(label_from_name(path)) is None


def move_without_replacing(source: Path, target: Path, exact: bool = False) -> Path:
    """Rename without ever replacing a file: a hard link fails when the name is taken. A taken name gets
    -2, -3… before its extension (or, `exact`, is a Conflict)."""
    candidate = target
    for number in range(2, 10_000):
        try:
            os.link(source, candidate)
        except FileExistsError:
            if exact:
                raise Conflict(f"{candidate.name} exists again; not undoing over it") from None
            candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
            continue
        os.unlink(source)
        return candidate
    raise Conflict(f"no free name near {target.name}")


def _take_lock(folder: Path, address: str) -> int:
    path = folder / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UserError(f"{folder} is not writable ({error.strerror}): labels could not be saved") from None
    if not os.access(folder, os.W_OK):  # root opens anything; the check stands for other users
        os.close(descriptor)
        raise UserError(f"{folder} is not writable: labels could not be saved")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(descriptor)
        raise UserError(f"{folder} is already open for labelling ({holder}): finish there first") from None
    if os.fstat(descriptor).st_ino != os.stat(path).st_ino:  # the holder deleted it as we opened it
        os.close(descriptor)
        return _take_lock(folder, address)
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"pid {os.getpid()} {address}".strip().encode(), 0)
    return descriptor


def _release_lock(folder: Path, descriptor: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder / LOCK_FILE)
    os.close(descriptor)
