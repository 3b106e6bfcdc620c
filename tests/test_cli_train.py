"""The train, eval and read commands end to end, and their error paths (one line, exit 2)."""

import json

import pytest
from digit_images import random_labels, write_folder
from model_folders import saved_model

from digitocr.cli import main


@pytest.mark.slow
def test_train_eval_read_on_a_folder(tmp_path, capsys):
    data = tmp_path / "data"
    paths = write_folder(data, random_labels(10))
    (data / "5_broken.png").write_bytes(b"garbage")
    assert main(["train", "--data", f"{data}:2", "--runs", str(tmp_path / "runs"), "--name", "t", "--steps", "3",
                 "--batch-size", "4", "--workers", "0", "--threads", "1", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "skipped 1 file(s): 5_broken.png" in err
    assert "validation: Character Accuracy: " in out and "best model: " in out
    model = tmp_path / "runs" / "t" / "best"

    assert main(["eval", "--model", str(model), str(data), "--grid", str(tmp_path / "grid.png"),
                 "--csv", str(tmp_path / "readings.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Character Accuracy: ") and len(lines[0].split(": ")[1].split(".")[1]) == 2
    assert lines[1].startswith("Word Accuracy: ")
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert len((tmp_path / "readings.csv").read_text().splitlines()) == 11

    assert main(["eval", "--model", str(model), str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 10 and report["skipped"][0]["path"].endswith("5_broken.png")

    assert main(["read", "--model", str(model), "--json", str(paths[0])]) == 0
    assert {"image", "text", "confidence"} <= set(json.loads(capsys.readouterr().out)[0])

    assert main(["train", "--resume", "--runs", str(tmp_path / "runs"), "--name", "t", "--steps", "4",
                 "--workers", "0", "--no-progress"]) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--no-progress"], "no training data"),
    (["train", "--data", "/nonexistent/folder"], "no such folder"),
    (["train", "--synth", "-k 2 --bogus-flag"], "unknown generator option"),
    (["train", "--synth", "", "--lr", "-1"], "--lr must be a positive number"),
    (["train", "--resume", "--name", "never-ran"], "nothing to resume"),
    (["eval", "--model", "/nonexistent/model", "."], "no model folder"),
    (["read", "--model", "MODEL", "--region", "1,2", "x.png"], "x0,y0,x1,y1"),
])
def test_mistakes_are_one_line_errors(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    saved_model(tmp_path / "MODEL")
    try:
        code = main(argv)
    except SystemExit as stopped:  # a mistake found where the option is parsed
        code = stopped.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"digitocr {argv[0]}: error: ") and message in err and err.count("\n") == 1


def test_eval_strict_and_empty_folders(tmp_path, capsys):
    saved_model(tmp_path / "model")
    write_folder(tmp_path / "data", ["12"])
    (tmp_path / "data" / "3_bad.png").write_bytes(b"not an image")
    assert main(["eval", "--model", str(tmp_path / "model"), str(tmp_path / "data"), "--strict"]) == 2
    assert "3_bad.png: not a readable image" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", "--model", str(tmp_path / "model"), str(tmp_path / "empty")]) == 2
    assert "no usable labelled images" in capsys.readouterr().err


@pytest.mark.parametrize("option", [
    ["--epochs", "0"], ["--val-split", "0"], ["--val-split", "-0.5"], ["--val-split", "1.5"],
    ["--epoch-size", "-5"], ["--patience", "-1"], ["--aug-prob", "7"], ["--threads", "0"], ["--seed", "-1"],
    ["--name", "../../x"], ["--name", "/abs"], ["--name", ""], ["--charset", ""], ["--time-limit", "nan"],
])
def test_options_are_checked_where_they_are_parsed(tmp_path, monkeypatch, capsys, option):
    """Nonsense fails at once, exit 2, naming the option, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--synth", "", *option])
    assert stopped.value.code == 2
    assert f"argument {option[0]}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_resume_writes_only_into_the_run_it_resumes_and_refuses_changes(tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    write_folder(data, random_labels(8))
    common = ["--workers", "0", "--threads", "1", "--no-progress"]
    assert main(["train", "--data", str(data), "--runs", str(tmp_path / "runs"), "--name", "ok", "--steps", "2",
                 "--batch-size", "4", *common]) == 0
    original = tmp_path / "runs" / "ok"
    before = {path: path.stat().st_mtime_ns for path in original.rglob("*")}
    shutil.copytree(original, tmp_path / "runs2" / "copy")
    capsys.readouterr()
    assert main(["train", "--resume", "--runs", str(tmp_path / "runs2"), "--name", "copy", "--batch-size", "8",
                 *common]) == 2
    assert "--batch-size cannot change" in capsys.readouterr().err
    assert main(["train", "--resume", "--runs", str(tmp_path / "runs2"), "--name", "copy", "--steps", "4",
                 *common]) == 0
    out = capsys.readouterr().out
    assert f"last model: {tmp_path / 'runs2' / 'copy' / 'last'}" in out
    assert {path: path.stat().st_mtime_ns for path in original.rglob("*")} == before


def test_damaged_state_and_unwritable_outputs_are_one_line_errors(tmp_path, capsys):
    run = tmp_path / "runs" / "cut"
    run.mkdir(parents=True)
    (run / "state.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":")
    assert main(["train", "--resume", "--runs", str(tmp_path / "runs"), "--name", "cut"]) == 2
    err = capsys.readouterr().err
    assert "is damaged or not a run state" in err and err.count("\n") == 1
    saved_model(tmp_path / "model")
    write_folder(tmp_path / "data", ["12", "3"])
    (tmp_path / "a-file").write_text("")
    for option in (["--csv", str(tmp_path / "a-file" / "r.csv")], ["--grid", str(tmp_path / "data")]):
        assert main(["eval", "--model", str(tmp_path / "model"), str(tmp_path / "data"), *option]) == 2
        err = capsys.readouterr().err
        assert "error: cannot write" in err and err.count("\n") == 1


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_a_cuda_device_without_a_gpu_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--synth", "", "--device", "cuda", "--steps", "1", "--val-size", "8"]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err
