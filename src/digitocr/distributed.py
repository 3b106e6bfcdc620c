"""Training on several processes with PyTorch DistributedDataParallel, when launched by `torchrun`.

`digitocr train` runs unchanged under `torchrun --nproc-per-node N`: each process draws its own part of
every global batch (the batch size stays the global one), gradients are averaged by DDP (gloo on CPUs,
NCCL on GPUs, one GPU per process), and only the first process writes the run folder. Processes agree
on the things that must not differ (the configuration, when to stop, whether a batch is skipped), so a
mismatch is an error on every process rather than a hang.

Outside torchrun (no WORLD_SIZE above 1 in the environment) everything here is a no-op.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional
from torch.nn.parallel import DistributedDataParallel

from digitocr.errors import UserError

ModelT = TypeVar("ModelT", bound=nn.Module)

# Options each process may set for itself; everything else in a TrainConfig must be the same everywhere.
PER_PROCESS = frozenset({"threads", "workers", "device"})
TIMEOUT_SECONDS = float(os.environ.get("DIGITOCR_DDP_TIMEOUT", "300"))  # a vanished peer ends the run


def launched() -> bool:
    """True inside a process that torchrun started with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and reports progress (the only one, outside torchrun)."""
    return rank() == 0


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its device and which part of every global batch it draws."""

    device: torch.device
    part: int
    parts: int


def start(device: torch.device, config_mapping: dict[str, Any], batch_size: int) -> Placement:
    """Join the process group when launched by torchrun (NCCL with one GPU per process when the device is
    CUDA, else gloo), check that every process got the same configuration, and say where this one trains."""
    if not launched():
        return Placement(device, 0, 1)
    if not active():
        cuda = device.type == "cuda"
        if cuda:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(seconds=TIMEOUT_SECONDS))
    _check_same_config(config_mapping)
    if batch_size % world_size():
        raise UserError(f"the batch size {batch_size} does not split evenly over {world_size()} processes")
    return Placement(device, rank(), world_size())


def _check_same_config(mapping: dict[str, Any]) -> None:
    shared = {key: value for key, value in mapping.items() if key not in PER_PROCESS}
    mine = json.dumps(shared, sort_keys=True, default=str)
    everyone: list[str | None] = [None] * world_size()
    dist.all_gather_object(everyone, mine)
    if any(other != everyone[0] for other in everyone):
        first = json.loads(everyone[0] or "{}")
        for index, other in enumerate(everyone):
            theirs = json.loads(other or "{}")
            differing = sorted(key for key in set(first) | set(theirs) if first.get(key) != theirs.get(key))
            if differing:
                raise UserError(f"torchrun processes were given different configurations: process {index} "
                                f"differs from process 0 in {', '.join(differing)}")


def finish() -> None:
    """Leave the process group (after the run; a no-op outside torchrun)."""
    if active():
        dist.destroy_process_group()


class _Replicated(DistributedDataParallel):
    """DDP over a recognizer that still answers its contract (`time_stride`, `output_lengths`, ...), and
    pads its part of the batch to the global batch's width, so every process computes what one process
    would on the whole batch (the bidirectional LSTM sees the same padded sequence)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        width = torch.tensor([images.shape[-1]], device=images.device)
        dist.all_reduce(width, op=dist.ReduceOp.MAX)
        extra = int(width.item()) - images.shape[-1]
        if extra:
            images = functional.pad(images, (0, extra), value=1.0)  # preprocess.BACKGROUND
        return super().forward(images)


class _GlobalBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the whole global batch, on CPUs too (nn.SyncBatchNorm
    is GPU-only): per-channel sums travel through a differentiable all_reduce, so the gradients are those
    of one process normalising the whole batch."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(images)
        from torch.distributed.nn.functional import all_reduce  # differentiable: its backward sums gradients

        channels = images.shape[1]
        count = torch.full((1,), images.numel() / channels, dtype=images.dtype, device=images.device)
        sums = torch.cat([images.sum(dim=(0, 2, 3)), (images * images).sum(dim=(0, 2, 3)), count])
        with warnings.catch_warnings():  # deprecated for functional collectives, which have no backward yet
            warnings.simplefilter("ignore", FutureWarning)
            totals = all_reduce(sums)
        number = totals[-1]
        mean = totals[:channels] / number
        variance = totals[channels:2 * channels] / number - mean * mean
        with torch.no_grad():
            momentum = self.momentum if self.momentum is not None else 0.1
            assert self.running_mean is not None and self.running_var is not None  # tracked by default
            assert self.num_batches_tracked is not None
            self.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
            self.running_var.mul_(1 - momentum).add_(variance * number / (number - 1), alpha=momentum)
            self.num_batches_tracked.add_(1)
        scale = self.weight / torch.sqrt(variance + self.eps)
        return images * scale[None, :, None, None] + (self.bias - mean * scale)[None, :, None, None]


def replicate(model: ModelT) -> ModelT:
    """The model to train with: under torchrun, DDP-wrapped with batch norm over the global batch;
    else the model itself. Save and validate the unwrapped model (its weights are the same object).
    The wrapper passes attribute look-ups through to the model, so it is typed as the model."""
    if not active():
        return model
    if next(model.parameters()).is_cuda:
        synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return cast(ModelT, _Replicated(synced, device_ids=[torch.cuda.current_device()]))
    for module in model.modules():
        if type(module) is nn.BatchNorm2d:
            module.__class__ = _GlobalBatchNorm  # same parameters and buffers, global statistics
    return cast(ModelT, _Replicated(model))


def _reduced(value: float, op: Any) -> float:
    """`value` reduced over the processes (on the GPU where NCCL carries the collectives)."""
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=op)
    return float(tensor.item())


def all_agree(flag: bool) -> bool:
    """True only when `flag` is true on every process (e.g. this batch's loss is finite everywhere)."""
    return flag if not active() else _reduced(1.0 if flag else 0.0, dist.ReduceOp.MIN) > 0.5


def largest(value: float) -> float:
    """The largest of every process's `value` (elapsed time: all processes stop at the same step)."""
    return value if not active() else _reduced(value, dist.ReduceOp.MAX)
