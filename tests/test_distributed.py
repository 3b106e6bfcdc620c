"""`train` under torchrun: two CPU processes (gloo) match one process drawing the same global batches, and
processes launched with different configurations stop with an error instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).with_name("ddp_train_run.py")
STEPS = "3"


def run(command: list[str], run_dir: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STEPS": STEPS, "DIGITOCR_DDP_TIMEOUT": "60"}
    return subprocess.run([*command, str(RUNNER), str(run_dir)], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def torchrun(processes: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]


def val_losses(output: str) -> list[float]:
    return [float(line.split()[-1]) for line in output.splitlines() if line.startswith("steps ")]


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    # The one-process run draws each batch in the two seeded parts the two processes draw.
    single = subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "single"), "--batch-parts", "2"],
                            capture_output=True, text=True, timeout=240, check=False,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "STEPS": STEPS})
    assert single.returncode == 0, single.stderr[-2000:]
    double = run(torchrun(2), tmp_path / "double")
    assert double.returncode == 0, double.stderr[-2000:]
    (alone,) = val_losses(single.stdout)
    first, second = val_losses(double.stdout)
    assert first == second  # every process holds the same weights
    # Equal up to float summation order (Adam turns the last bits of near-zero gradients into whole steps).
    assert first == pytest.approx(alone, rel=1e-4)
    assert (tmp_path / "double" / "best" / "model.safetensors").is_file()
    assert not list((tmp_path / "double").glob("*rank*"))


@pytest.mark.slow
def test_processes_with_different_configurations_stop_with_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STEPS": STEPS, "DIGITOCR_DDP_TIMEOUT": "60"}
    result = subprocess.run([*torchrun(2), str(RUNNER), str(tmp_path / "mixed"), "--lr-on-rank-1", "0.01"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode != 0
    assert "different configurations: process 1 differs from process 0 in lr" in result.stderr
