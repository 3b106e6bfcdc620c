"""Other tools' label files to and from labelled folders: PPOCRLabel rec_gt.txt, Label Studio JSON, TRDG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from digit_images import draw_digits, write_folder

from digitocr.cli import main
from digitocr.errors import UserError
from digitocr.images import open_image
from digitocr.label.formats import export_labels, import_labels
from digitocr.labels import list_labelled_files

LABELS = ["151", "27", "4561", "9"]


def contents(folder: Path) -> dict[str, bytes]:
    """label -> image bytes, for comparing folders regardless of names."""
    return {label: path.read_bytes() for path, label in list_labelled_files(folder)}


@pytest.mark.parametrize("target", ["out/rec_gt.txt", "out/tasks.json", "out/trdg"])
def test_export_then_import_keeps_every_crop_and_label(tmp_path: Path, target: str) -> None:
    source = tmp_path / "source"
    write_folder(source, LABELS)
    exported = export_labels(source, tmp_path / target)
    assert exported.written == len(LABELS)
    imported = import_labels(tmp_path / target, tmp_path / "back")
    assert imported.written == len(LABELS) and not imported.skipped
    assert contents(tmp_path / "back") == contents(source)  # the very bytes, nothing re-encoded
    with pytest.raises(UserError, match="exists|not empty"):
        export_labels(source, tmp_path / target)


def test_rec_gt_is_what_ppocrlabel_writes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_folder(source, LABELS[:2])
    export_labels(source, tmp_path / "ppocr" / "rec_gt.txt")
    lines = (tmp_path / "ppocr" / "rec_gt.txt").read_text().splitlines()
    assert lines == ["crop_img/0.png\t151", "crop_img/1.png\t27"]
    (tmp_path / "ppocr" / "rec_gt.txt").write_text(lines[0] + "\ncrop_img/missing.jpg\t5\n")
    result = import_labels(tmp_path / "ppocr" / "rec_gt.txt", tmp_path / "into")
    assert result.written == 1 and "missing.jpg" in result.skipped[0]


def test_label_studio_ocr_boxes_become_crops(tmp_path: Path) -> None:
    """An export of the OCR template: two transcribed boxes on one uploaded screenshot."""
    screen = np.full((100, 200), 255, dtype=np.uint8)
    first, second = np.asarray(draw_digits("151")), np.asarray(draw_digits("42"))
    screen[10:10 + first.shape[0], 20:20 + first.shape[1]] = first
    screen[60:60 + second.shape[0], 120:120 + second.shape[1]] = second
    (tmp_path / "export").mkdir()
    from PIL import Image

    Image.fromarray(screen).save(tmp_path / "export" / "screen.png")

    def region(region_id: str, box: np.ndarray, left: int, top: int, text: str) -> list[dict]:
        value = {"x": left / 2, "y": top, "width": box.shape[1] / 2, "height": box.shape[0], "rotation": 0}
        common = {"id": region_id, "to_name": "image", "original_width": 200, "original_height": 100}
        return [{**common, "from_name": "bbox", "type": "rectangle", "value": value},
                {**common, "from_name": "transcription", "type": "textarea",
                 "value": {**value, "text": [text]}}]

    tasks = [{"id": 7, "data": {"ocr": "/data/upload/1/0a1b2c3d-screen.png"},
              "annotations": [{"was_cancelled": False,
                               "result": [*region("a", first, 20, 10, "151"),
                                          *region("b", second, 120, 60, "42")]}]},
             {"id": 8, "data": {"ocr": "/data/upload/1/elsewhere.png"}, "annotations": []}]
    (tmp_path / "export" / "project.json").write_text(json.dumps(tasks))
    export = tmp_path / "export" / "project.json"
    assert main(["label", str(tmp_path / "crops"), "--import", str(export)]) == 0
    crops = {label: open_image(path) for path, label in list_labelled_files(tmp_path / "crops")}
    assert set(crops) == {"151", "42"}
    assert np.array_equal(crops["151"], first) and np.array_equal(crops["42"], second)


def test_imports_never_replace_a_file_and_refuse_unwritable_labels(tmp_path: Path) -> None:
    source = tmp_path / "trdg"
    write_folder(source, ["12", "12"])
    (source / "notes.txt").write_text("x")
    folder = tmp_path / "crops"
    write_folder(folder, ["12"])  # 12_0.png already there
    before = (folder / "12_0.png").read_bytes()
    result = import_labels(source, folder)
    assert result.written == 2 and result.skipped == ["notes.txt: not an image"]
    assert sorted(p.name for p in folder.iterdir()) == ["12_0-2.png", "12_0.png", "12_1.png"]
    assert (folder / "12_0.png").read_bytes() == before

    rec_gt = tmp_path / "rec_gt.txt"
    draw_digits("5").save(tmp_path / "a.png")
    rec_gt.write_text("a.png\t5_5\n")
    names_result = import_labels(rec_gt, tmp_path / "names")
    assert names_result.written == 0 and "use --store tsv" in names_result.skipped[0]
    tsv_result = import_labels(rec_gt, tmp_path / "tsv", store="tsv")
    assert tsv_result.written == 1
    assert list_labelled_files(tmp_path / "tsv") == [(tmp_path / "tsv" / "a.png", "5_5")]


def test_unknown_formats_and_missing_sources_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        import_labels(tmp_path / "absent.json", tmp_path / "crops")
    (tmp_path / "labels.csv").write_text("x")
    with pytest.raises(UserError, match="cannot tell the format"):
        import_labels(tmp_path / "labels.csv", tmp_path / "crops")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="Label Studio"):
        import_labels(tmp_path / "bad.json", tmp_path / "crops")
