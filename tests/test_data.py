from pathlib import Path

import numpy as np
import pytest
from digit_images import draw_digits, random_labels, write_folder

from digitocr.charset import Charset
from digitocr.data import (
    Augment,
    BatchMaker,
    BatchStream,
    DataSpec,
    FolderSource,
    describe_skipped,
    load_labelled,
    prepare_data,
)
from digitocr.errors import UserError
from digitocr.labels import label_from_name
from digitocr.preprocess import Preprocess


def test_labels_come_from_names_or_labels_tsv(tmp_path):
    assert label_from_name(Path("151_speed.png")) == "151"
    assert label_from_name(Path("4561.png")) == "4561"
    draw_digits("42").save(tmp_path / "a.png")
    (tmp_path / "labels.tsv").write_text("a.png\t42\n", encoding="utf-8")
    data = load_labelled([tmp_path], Charset())
    assert data.labels == ["42"] and data.paths == [tmp_path / "a.png"]


def test_bad_files_are_skipped_counted_and_named(tmp_path):
    write_folder(tmp_path, ["12", "345"])
    (tmp_path / "99_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "7_empty.jpg").write_bytes(b"")
    draw_digits("8").save(tmp_path / "8a_letter.png")
    data = load_labelled([tmp_path], Charset())
    assert sorted(data.labels) == ["12", "345"]
    assert len(data.skipped) == 3
    message = describe_skipped(data.skipped, shown=2)
    assert message.startswith("skipped 3 file(s)") and "and 1 more" in message
    with pytest.raises(UserError, match="not a readable image|outside the charset"):
        load_labelled([tmp_path], Charset(), strict=True)


def test_empty_or_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        load_labelled([tmp_path / "nope"], Charset())
    with pytest.raises(UserError, match="no usable labelled images"):
        prepare_data(DataSpec(folders=[(str(tmp_path), 1.0)]), Charset(), Preprocess(), seed=0)
    with pytest.raises(UserError, match="no training data"):
        prepare_data(DataSpec(), Charset(), Preprocess(), seed=0)


def test_folder_data_is_split_20_percent_for_validation(tmp_path):
    write_folder(tmp_path, random_labels(10))
    prepared = prepare_data(DataSpec(folders=[(str(tmp_path), 1.0)]), Charset(), Preprocess(), seed=3)
    assert len(prepared.validation) == 2 and len(prepared.sources[0][0]) == 8


def make_source(count: int = 6) -> FolderSource:
    crops = [(np.random.default_rng(i).random((32, 20 + i)) * 255).astype(np.uint8) for i in range(count)]
    return FolderSource("test", crops, [str(i) * (1 + i % 3) for i in range(count)])


def test_batches_are_a_function_of_seed_epoch_and_index():
    maker = BatchMaker([make_source(), make_source(3)], [3.0, 1.0], batch_size=8, seed=5, augment=Augment(1.0))
    first, again, other = maker.make(2, 7), maker.make(2, 7), maker.make(2, 8)
    assert first.labels == again.labels
    assert all(np.array_equal(a, b) for a, b in zip(first.crops, again.crops))
    assert first.labels != other.labels or not all(np.array_equal(a, b) for a, b in zip(first.crops, other.crops))
    assert all(crop.shape[0] == 32 for crop in first.crops)


def test_curriculum_starts_with_short_labels():
    maker = BatchMaker([make_source()], [1.0], batch_size=16, seed=0, curriculum_epochs=1)
    assert max(len(label) for label in maker.make(0, 0).labels) <= 2
    assert max(len(label) for label in maker.make(1, 0).labels) == 3


@pytest.mark.slow
def test_background_workers_give_the_same_stream():
    maker = BatchMaker([make_source()], [1.0], batch_size=4, seed=1)
    with BatchStream(maker, batches_per_epoch=3, start=2, workers=0) as inline:
        expected = [(epoch, index, batch.labels) for (epoch, index, batch), _ in zip(inline, range(5))]
    with BatchStream(maker, batches_per_epoch=3, start=2, workers=2) as workers:
        got = [(epoch, index, batch.labels) for (epoch, index, batch), _ in zip(workers, range(5))]
    assert got == expected and expected[0][:2] == (0, 2) and expected[1][:2] == (1, 0)


@pytest.mark.slow
def test_the_batch_worker_dies_with_its_parent(tmp_path):
    """A trainer killed with kill -9 leaves no batch worker behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "trainer.py"
    script.write_text(
        "import sys, time\n"
        "import numpy as np\n"
        "from digitocr.data import BatchMaker, BatchStream, FolderSource\n"
        "if __name__ == '__main__':\n"
        "    crops = [np.full((32, 20), 255, np.uint8)] * 4\n"
        "    maker = BatchMaker([FolderSource('t', crops, ['1', '2', '3', '4'])], [1.0], 2, seed=0)\n"
        "    with BatchStream(maker, 10, 0, workers=1) as stream:\n"
        "        next(iter(stream))\n"
        "        print(stream._processes[0].pid, flush=True)\n"
        "        time.sleep(60)\n", encoding="utf-8")
    trainer = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(trainer.stdout.readline())
    os.kill(trainer.pid, signal.SIGKILL)
    trainer.wait()

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        return "\nState:\tZ" not in state  # a zombie has exited; only its entry waits to be reaped

    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker)
