import csv

import pytest
import torch
from digit_images import random_labels, write_folder
from safetensors.torch import load_file

import digitocr.train
from digitocr.charset import Charset
from digitocr.data import DataSpec, prepare_data
from digitocr.errors import UserError
from digitocr.preprocess import Preprocess
from digitocr.train import LOG_COLUMNS, TrainConfig, train


@pytest.fixture(scope="module")
def handful(tmp_path_factory):
    """Eight labelled crops, trained on and validated on (overfitting is the point)."""
    folder = tmp_path_factory.mktemp("handful")
    write_folder(folder, random_labels(8, seed=1))
    prepared = prepare_data(DataSpec(folders=[(str(folder), 1.0)], val_folders=[str(folder)]),
                            Charset(), Preprocess(), seed=0)
    return prepared.sources, prepared.validation


def config(run_dir, **changes) -> TrainConfig:
    options = {"run_dir": run_dir, "epochs": 6, "epoch_size": 32, "batch_size": 8, "lr": 1e-2,
               "schedule": "constant", "augment": None, "workers": 0, "threads": 1, "seed": 4}
    return TrainConfig(**{**options, **changes})


@pytest.mark.slow
def test_overfits_a_handful_of_images(tmp_path, handful):
    sources, validation = handful
    result = train(config(tmp_path / "run", epochs=25, epoch_size=64, batch_size=16, lr=5e-3), sources,
                   validation)  # 1e-2 overshoots: perfect by epoch 16, then in and out of it
    assert result.history[-1]["val_wa"] == 1.0 and result.history[-1]["val_ca"] == 100.0
    with open(result.log_path, newline="") as log:
        rows = list(csv.DictReader(log))
    assert list(rows[0]) == LOG_COLUMNS and len(rows) == 25
    assert result.curves_path.stat().st_size > 0
    assert (result.best_dir / "model.json").is_file() and (result.last_dir / "model.safetensors").is_file()


def test_killed_and_resumed_run_ends_with_the_same_weights(tmp_path, handful):
    sources, validation = handful
    straight = train(config(tmp_path / "straight"), sources, validation)

    def kill_after_epoch_3(progress):
        if progress.kind == "epoch" and progress.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path / "killed"), sources, validation, on_progress=kill_after_epoch_3)
    resumed = train(config(tmp_path / "killed", resume=True), sources, validation)
    assert resumed.steps == straight.steps
    expected, got = (load_file(str(r.last_dir / "model.safetensors")) for r in (straight, resumed))
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4, 5, 6]


def test_steps_limit_and_resume_errors(tmp_path, handful):
    sources, validation = handful
    result = train(config(tmp_path / "run", steps=3), sources, validation)
    assert result.steps == 3 and result.stopped_because == "steps"
    with pytest.raises(UserError, match="already holds a run"):
        train(config(tmp_path / "run"), sources, validation)
    with pytest.raises(UserError, match="its charset was"):
        train(config(tmp_path / "run", resume=True, charset="0123456789."), sources, validation)
    with pytest.raises(UserError, match="nothing to resume"):
        train(config(tmp_path / "other", resume=True), sources, validation)


def test_nan_losses_never_reach_the_weights_and_stop_with_a_hint(tmp_path, handful, monkeypatch):
    sources, validation = handful
    monkeypatch.setattr(digitocr.train, "ctc_loss", lambda *args: torch.tensor(float("nan")))
    with pytest.raises(UserError, match="learning rate"):
        train(config(tmp_path / "run", max_bad_batches=3), sources, validation)
    assert not (tmp_path / "run" / "last").exists()


def test_bad_hyper_parameters_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="--lr"):
        config(tmp_path, lr=0)
    with pytest.raises(UserError, match="--schedule"):
        config(tmp_path, schedule="step")


def test_a_diverging_run_is_a_failure_and_saves_no_model(tmp_path, handful):
    """A learning rate of 1e9 blows the weights up at the first step: the run fails, naming the cause."""
    sources, validation = handful
    with pytest.raises(UserError, match="training diverged at epoch 1 .*try --lr"):
        train(config(tmp_path / "run", lr=1e9, grad_clip=None, epochs=1), sources, validation)
    assert not (tmp_path / "run" / "best").exists() and not (tmp_path / "run" / "last").exists()
