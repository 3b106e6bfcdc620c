"""Other tools' label files, to and from digitocr's labelled folders.

- PPOCRLabel's `rec_gt.txt`: `crop_img/NAME.jpg<TAB>text` lines, paths relative to the file's folder.
- Label Studio's OCR template, JSON export: tasks whose annotations pair a `rectangle` (percent of the image)
  with a `textarea` transcription of the same region id; each box becomes a crop.
- TRDG's file names: `LABEL_INDEX.ext`.

Imports add crops to a folder (file names, or labels.tsv where the folder keeps one) without ever replacing
a file; exports write a new file or folder and refuse one that exists.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

from digitocr.errors import UserError
from digitocr.files import write_atomically, write_text_atomically
from digitocr.images import IMAGE_EXTENSIONS, encode_image, open_image
from digitocr.label.folder import move_without_replacing
from digitocr.labels import (
    LABELS_FILE,
    label_from_name,
    labelled_name,
    list_labelled_files,
    read_labels_tsv,
    write_labels_tsv,
)

FORMATS = ("ppocr", "labelstudio", "trdg")
REC_GT = "rec_gt.txt"
CROP_DIR = "crop_img"
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes uploaded files with a hash


@dataclass(frozen=True)
class LabelledImage:
    """A crop to write: its text, a name to keep, and either the file holding it or the cut-out pixels."""

    label: str
    ident: str
    path: Path | None = None
    pixels: np.ndarray | None = None

    @property
    def extension(self) -> str:
        return self.path.suffix.lower() if self.path is not None else ".png"

    def data(self) -> bytes:
        """The file's own bytes (nothing re-encoded), or a PNG of the cut-out."""
        if self.path is not None:
            return self.path.read_bytes()
        assert self.pixels is not None
        return encode_image(self.pixels, "png")


@dataclass
class Converted:
    written: int = 0
    skipped: list[str] = field(default_factory=list)  # "what: why", one per entry left out


# --- reading ------------------------------------------------------------------------------------------

def read_rec_gt(path: Path) -> tuple[list[LabelledImage], list[str]]:
    """The crops of a PPOCRLabel rec_gt.txt (paths relative to its folder, as PPOCRLabel writes them)."""
    entries, skipped = [], []
    for path_in_file, label in read_labels_tsv(path):  # `path<TAB>text` lines, as labels.tsv
        if not path_in_file.is_file():
            skipped.append(f"{path_in_file}: no such file")
        else:
            entries.append(LabelledImage(label, path_in_file.stem, path=path_in_file))
    return entries, skipped


def read_trdg(folder: Path) -> tuple[list[LabelledImage], list[str]]:
    """The crops of a folder named the TRDG way, `LABEL_INDEX.ext`."""
    if not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    entries, skipped = [], []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append(f"{path.name}: not an image")
        else:
            entries.append(LabelledImage(label_from_name(path), _ident(path, label_from_name(path)), path))
    return entries, skipped


def read_label_studio(path: Path, images: Path | None = None) -> tuple[list[LabelledImage], list[str]]:
    """Every transcribed box of a Label Studio OCR export, cut out of its image (found under `images`,
    default the JSON's folder, by the task's path or its file name)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read {path} as Label Studio JSON: {error}") from None
    if not isinstance(tasks, list):
        raise UserError(f"{path}: expected Label Studio's JSON export (a list of tasks)")
    entries, skipped = [], []
    for number, task in enumerate(tasks):
        source = _task_image(task)
        where = f"task {task.get('id', number) if isinstance(task, dict) else number}"
        image_path = _find_image(source, images or path.parent) if source else None
        if image_path is None:
            skipped.append(f"{where}: image {source!r} not found under {images or path.parent}")
            continue
        boxes, texts = _regions(task)
        if not texts:
            skipped.append(f"{where}: no transcription")
            continue
        pixels = None
        for region, text in texts.items():
            box = boxes.get(region)
            ident = f"{image_path.stem}-{region}" if len(texts) > 1 else image_path.stem
            if box is None or _whole(box):
                entries.append(LabelledImage(text, ident, path=image_path))
                continue
            if box.get("rotation"):
                skipped.append(f"{where}, region {region}: rotated boxes are not supported")
                continue
            if pixels is None:
                pixels = open_image(image_path)
            crop = _cut(pixels, box)
            if crop is None:
                skipped.append(f"{where}, region {region}: empty box")
            else:
                entries.append(LabelledImage(text, ident, pixels=crop))
    return entries, skipped


def read_folder(folder: Path) -> list[LabelledImage]:
    """A digitocr labelled folder (labels.tsv, else file names)."""
    return [LabelledImage(label, _ident(path, label), path) for path, label in list_labelled_files(folder)]


def _ident(path: Path, label: str) -> str:
    """What names the crop besides its label: `09` of `151_09.png`, else the whole stem."""
    rest = path.stem.partition("_")[2]
    return rest if rest and label_from_name(path) == label else path.stem


# --- writing ------------------------------------------------------------------------------------------

def add_to_folder(entries: Iterable[LabelledImage], folder: Path, store: str | None = None) -> Converted:
    """Copy the crops into `folder` as LABEL_ID.ext (or under their own names plus labels.tsv lines);
    a name that is taken gets -2, -3…; nothing in the folder is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    tsv = folder / LABELS_FILE
    store = store or ("tsv" if tsv.is_file() else "names")
    result = Converted()
    listed = read_labels_tsv(tsv) if tsv.is_file() else []
    for entry in entries:
        if problem := _unwritable(entry.label, store):
            result.skipped.append(f"{entry.ident}: {problem}")
            continue
        name = labelled_name(entry.label, entry.ident, entry.extension) if store == "names" \
            else f"{entry.ident}{entry.extension}"
        written = _write_new(folder / name, entry.data())
        if store == "tsv":
            listed.append((written, entry.label))
        result.written += 1
    if store == "tsv":
        write_labels_tsv(tsv, listed)
    return result


def write_rec_gt(entries: list[LabelledImage], target: Path) -> Converted:
    """`target` (a rec_gt.txt, or a folder to hold one) plus the crops under crop_img/ beside it."""
    rec_gt = target if target.suffix == ".txt" else target / REC_GT
    if rec_gt.exists():
        raise UserError(f"{rec_gt} exists: export to a new file")
    lines = []
    for entry in entries:
        written = _write_new(rec_gt.parent / CROP_DIR / f"{entry.ident}{entry.extension}", entry.data())
        lines.append(f"{CROP_DIR}/{written.name}\t{entry.label}\n")
    write_text_atomically(rec_gt, "".join(lines))
    return Converted(len(lines))


def write_label_studio(entries: list[LabelledImage], target: Path) -> Converted:
    """A Label Studio task list in the OCR template's shape: one whole-image box and its text per crop.
    Images are referenced by absolute path (serve them to Label Studio as local files)."""
    if target.exists():
        raise UserError(f"{target} exists: export to a new file")
    tasks = []
    for number, entry in enumerate(entries, 1):
        assert entry.path is not None
        height, width = open_image(entry.path).shape[:2]
        whole = {"x": 0, "y": 0, "width": 100, "height": 100, "rotation": 0}
        common = {"id": f"r{number}", "to_name": "image", "original_width": width, "original_height": height,
                  "image_rotation": 0}
        tasks.append({"id": number, "data": {"ocr": str(entry.path.resolve())}, "annotations": [{"result": [
            {**common, "from_name": "bbox", "type": "rectangle", "value": whole},
            {**common, "from_name": "transcription", "type": "textarea",
             "value": {**whole, "text": [entry.label]}},
        ]}]})
    write_text_atomically(target, json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    return Converted(len(tasks))


def write_trdg(entries: list[LabelledImage], target: Path) -> Converted:
    """A new folder of `LABEL_INDEX.ext` files (TRDG's default naming)."""
    if target.exists() and any(target.iterdir()):
        raise UserError(f"{target} is not empty: export to a new folder")
    result = Converted()
    for index, entry in enumerate(entries):
        if problem := _unwritable(entry.label, "names"):
            result.skipped.append(f"{entry.path or entry.ident}: {problem}")
            continue
        target.mkdir(parents=True, exist_ok=True)
        _write_new(target / labelled_name(entry.label, index, entry.extension), entry.data())
        result.written += 1
    return result


# --- the two entry points -----------------------------------------------------------------------------

def import_labels(source: Path, folder: Path, kind: str | None = None, images: Path | None = None,
                  store: str | None = None) -> Converted:
    """Add the crops of `source` (rec_gt.txt, Label Studio JSON or a TRDG folder) to `folder`."""
    kind = kind or _guess(source)
    if kind != "trdg" and not source.is_file():
        raise UserError(f"no such file: {source}")
    if kind == "ppocr":
        entries, skipped = read_rec_gt(source if source.is_file() else source / REC_GT)
    elif kind == "labelstudio":
        entries, skipped = read_label_studio(source, images)
    else:
        entries, skipped = read_trdg(source)
    if Path(os.path.abspath(source)) == Path(os.path.abspath(folder)):
        raise UserError("importing a folder into itself would copy every crop twice")
    result = add_to_folder(entries, folder, store)
    result.skipped[:0] = skipped
    return result


def export_labels(folder: Path, target: Path, kind: str | None = None) -> Converted:
    """Write the labelled crops of `folder` as `kind` (guessed: .json, .txt, else a TRDG folder)."""
    kind = kind or _guess(target)
    entries = read_folder(folder)
    if not entries:
        raise UserError(f"no labelled crops in {folder}")
    writer = {"ppocr": write_rec_gt, "labelstudio": write_label_studio, "trdg": write_trdg}[kind]
    return writer(entries, target)


def _guess(path: Path) -> str:
    if path.suffix.lower() == ".json":
        return "labelstudio"
    if path.suffix.lower() == ".txt" or (path / REC_GT).is_file():
        return "ppocr"
    if path.suffix and not path.is_dir():
        raise UserError(f"cannot tell the format of {path}: pass --as {'|'.join(FORMATS)}")
    return "trdg"


def _unwritable(label: str, store: str) -> str | None:
    if not label:
        return "empty label"
    if any(char in label for char in "\t\r\n"):
        return f"label {label!r} has a tab or line break"
    if store == "names" and any(char in label for char in "_/\\\0"):
        return f"label {label!r} cannot be a file name prefix (use --store tsv)"
    return None


def _write_new(path: Path, data: bytes) -> Path:
    """Write `data` to `path`, or to a free name beside it; never replaces a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.import")
    write_atomically(temporary, data)
    return move_without_replacing(temporary, path)


def _task_image(task: object) -> str | None:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        return None
    data = task["data"]
    for key in ("ocr", "image", *data):
        if isinstance(data.get(key), str):
            return data[key]
    return None


def _find_image(source: str, folder: Path) -> Path | None:
    """The file a task's image URL means: ?d=path (local storage), the path, or its name in `folder`."""
    parsed = urlparse(source)
    local = parse_qs(parsed.query).get("d", [])
    name = Path(unquote(parsed.path)).name
    candidates = [*(folder / unquote(d) for d in local), *(Path(unquote(d)) for d in local),
                  Path(unquote(parsed.path)) if parsed.scheme in ("", "file") else None,
                  folder / name, folder / UPLOAD_PREFIX.sub("", name)]
    return next((c for c in candidates if c is not None and c.is_file()), None)


def _regions(task: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """The latest kept annotation's boxes and texts, by region id."""
    annotations = [a for a in task.get("annotations") or []
                   if isinstance(a, dict) and not a.get("was_cancelled")]
    results = annotations[-1].get("result", []) if annotations else []
    boxes, texts = {}, {}
    for result in results:
        value, region = result.get("value", {}), str(result.get("id", ""))
        if all(key in value for key in ("x", "y", "width", "height")):
            boxes[region] = value
        if result.get("type") == "textarea" and value.get("text"):
            texts[region] = " ".join(value["text"]).strip()
    return boxes, texts


def _whole(box: dict) -> bool:
    return box["x"] <= 0.5 and box["y"] <= 0.5 and box["width"] >= 99.5 and box["height"] >= 99.5


def _cut(pixels: np.ndarray, box: dict) -> np.ndarray | None:
    height, width = pixels.shape[:2]
    x0, y0 = round(box["x"] / 100 * width), round(box["y"] / 100 * height)
    x1, y1 = round((box["x"] + box["width"]) / 100 * width), round((box["y"] + box["height"]) / 100 * height)
    crop = pixels[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    return crop if crop.size else None
