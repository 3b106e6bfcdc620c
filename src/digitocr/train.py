"""The training loop: CTC on batches from weighted sources, validation, best/last models, exact resume.

A run folder holds `best/` and `last/` (model folders), `log.csv` (one row per epoch, the seed's
columns), `curves.png` and `state.safetensors`: weights, optimizer, position in the stream, RNG and
history in one file (tensors plus JSON metadata), so a resumed run continues exactly where it stopped
and a kill can never leave half a state behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from digitocr import __version__, distributed
from digitocr.charset import Charset
from digitocr.ctc import ctc_loss, decode_greedy, min_widths
from digitocr.data import Batch, BatchMaker, BatchStream, FolderSource, batches_per_epoch
from digitocr.errors import UserError
from digitocr.files import atomic_path, write_text_atomically
from digitocr.mapping import from_mapping, to_mapping
from digitocr.metrics import character_accuracy, word_accuracy
from digitocr.modelio import load_model, save_model
from digitocr.models import Recognizer, build_model, pad_batch
from digitocr.train_config import SYNTHETIC_EPOCH_SIZE, TrainConfig

LOG_COLUMNS = ["epoch", "train_loss", "val_loss", "train_ca", "val_ca", "train_wa", "val_wa"]
STATE_FILE = "state.safetensors"


@dataclass
class TrainProgress:
    """What the loop reports: after every step (`kind="step"`) and every validation (`kind="epoch"`)."""

    kind: str
    epoch: int
    batch: int
    batches_per_epoch: int
    step: int
    loss: float
    lr: float
    row: dict[str, float] | None = None


@dataclass
class TrainResult:
    run_dir: Path
    best_dir: Path
    last_dir: Path
    log_path: Path
    curves_path: Path
    history: list[dict[str, float]]
    steps: int
    stopped_because: str
    skipped_batches: int
    images_per_second: float


@dataclass
class _Position:
    """Where the run is: everything besides tensors that resuming needs."""

    batch_number: int = 0       # global batch number of the next batch
    step: int = 0
    best: float | None = None
    epochs_without_improvement: int = 0
    skipped_batches: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("loss", "ca", "wa", "n"), 0.0))


def train(config: TrainConfig, train_sources: list[tuple[Any, float]], val_source: FolderSource,
          on_progress: Callable[[TrainProgress], None] | None = None) -> TrainResult:
    """Train `config.architecture` on the weighted sources, validating on `val_source` every epoch."""
    if len(val_source) == 0:
        raise UserError("the validation set is empty")
    charset = Charset(config.charset)
    device = _pick_device(config.device)
    placement = distributed.start(device, config.to_mapping(), config.batch_size)  # torchrun: join the others
    device = placement.device
    if not distributed.is_main():
        on_progress = None  # one process reports
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build_model(config.architecture, charset.num_classes, height=config.preprocess.height,
                        **config.architecture_options).to(device)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # (in place)
    optimizer = _make_optimizer(config, model)
    position = _Position()
    state_path = config.run_dir / STATE_FILE
    if config.init_from and not config.resume:
        _start_from(model, config.init_from, charset)
    if config.resume:
        position = _load_state(state_path, config, model, optimizer)
    elif state_path.exists() and not config.overwrite:
        raise UserError(f"{config.run_dir} already holds a run: --resume it, or pass --overwrite")
    folder_size = sum(len(source) for source, _ in train_sources if isinstance(source, FolderSource))
    epoch_size = config.epoch_size or folder_size or SYNTHETIC_EPOCH_SIZE
    per_epoch = batches_per_epoch(epoch_size, config.batch_size)
    total_steps = min(config.epochs * per_epoch, config.steps or math.inf)
    trainable = distributed.replicate(model)
    maker = BatchMaker([source for source, _ in train_sources], [weight for _, weight in train_sources],
                       config.batch_size, config.seed, config.augment, config.curriculum_epochs,
                       parts=placement.parts if placement.parts > 1 else config.batch_parts,
                       part=placement.part if placement.parts > 1 else None)
    started = time.monotonic()
    images_seen = 0
    stopped_because = "epochs"
    bad_in_a_row = 0
    with BatchStream(maker, per_epoch, position.batch_number, config.workers) as stream:
        for epoch, index, batch in stream:
            if position.batch_number >= config.epochs * per_epoch:
                break
            if config.steps is not None and position.step >= config.steps:
                stopped_because = "steps"
                break
            elapsed = distributed.largest(time.monotonic() - started)
            if config.time_limit is not None and elapsed >= config.time_limit:
                stopped_because = "time limit"
                break
            progress = max(position.step / total_steps, elapsed / config.time_limit if config.time_limit else 0)
            lr = _learning_rate(config, progress)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, predictions = train_step(trainable, optimizer, batch, charset, device, config.grad_clip)
            position.batch_number += 1
            images_seen += len(batch.labels)
            if loss is None:
                position.skipped_batches += 1
                position.epoch_sums["bad"] = position.epoch_sums.get("bad", 0.0) + len(batch.labels)
                bad_in_a_row += 1
                if bad_in_a_row >= config.max_bad_batches:
                    raise UserError(f"the loss was NaN or infinite in {bad_in_a_row} batches in a row: the "
                                    f"learning rate ({config.lr:g}) is probably too high; try --lr "
                                    f"{config.lr / 10:g}")
            else:
                bad_in_a_row = 0
                position.step += 1
                sums = position.epoch_sums
                sums["loss"] += loss * len(batch.labels)
                sums["ca"] += character_accuracy(predictions, batch.labels) * len(batch.labels)
                sums["wa"] += word_accuracy(predictions, batch.labels) * len(batch.labels)
                sums["n"] += len(batch.labels)
            if on_progress:
                on_progress(TrainProgress("step", epoch, index + 1, per_epoch, position.step,
                                          loss if loss is not None else math.nan, lr))
            if index + 1 == per_epoch and _end_epoch(config, epoch + 1, model, optimizer, val_source,
                                                     charset, device, position, per_epoch, on_progress):
                stopped_because = "early stopping"
                break
    if position.epoch_sums["n"] or position.epoch_sums.get("bad"):  # stopped inside an epoch: validate, save
        _end_epoch(config, position.batch_number / per_epoch, model, optimizer, val_source, charset,
                   device, position, per_epoch, on_progress)
    curves_path = config.run_dir / "curves.png"
    if config.curves and distributed.is_main():
        plot_curves(position.history, curves_path)
    distributed.finish()
    seconds = time.monotonic() - started
    return TrainResult(config.run_dir, config.run_dir / "best", config.run_dir / "last",
                       config.run_dir / "log.csv", curves_path, position.history, position.step,
                       stopped_because, position.skipped_batches, images_seen / max(seconds, 1e-9))


def _start_from(model: nn.Module, folder: str, charset: Charset) -> None:
    """Copy a saved model's weights into the new one (same architecture, or a UserError). The saved model
    may read more characters (the general model reads digits and `.-:,%/`): the output layer keeps the
    rows of the characters read here."""
    loaded = load_model(folder)
    old = loaded.charset.chars
    if lacking := set(charset.chars) - set(old):
        raise UserError(f"{folder} reads {old!r}, without {''.join(sorted(lacking))!r}: cannot start from it")
    rows = torch.tensor([0] + [old.index(char) + 1 for char in charset.chars])  # the blank, then each character
    state = loaded.model.state_dict()
    target = model.state_dict()
    for name, tensor in state.items():
        wanted = target.get(name)
        if (wanted is not None and tensor.shape != wanted.shape and tensor.shape[0] == len(old) + 1
                and tensor.shape[1:] == wanted.shape[1:]):
            state[name] = tensor[rows]
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise UserError(f"{folder} holds a different network ({loaded.meta.get('architecture')}, "
                        f"{loaded.meta.get('architecture_options')}): cannot start from it") from None


def _pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise UserError(f"bad --device {requested!r}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {requested}: no CUDA GPU is available here (use cpu or auto)")
    return device


def _make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _learning_rate(config: TrainConfig, progress: float) -> float:
    """The schedule as a function of how far the run is (0..1 of its steps, epochs or time)."""
    progress = min(max(progress, 0.0), 1.0)
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        return config.lr * max(_cosine(progress), 1e-3)
    if progress < config.warmup:  # onecycle: warm up from lr/25, then anneal to lr/1000
        return config.lr * (0.04 + 0.96 * progress / config.warmup)
    return config.lr * max(_cosine((progress - config.warmup) / (1 - config.warmup)), 1e-3)


def _cosine(fraction: float) -> float:
    return 0.5 * (1 + math.cos(math.pi * fraction))


def train_step(model: Recognizer, optimizer: torch.optim.Optimizer, batch: Batch, charset: Charset,
               device: torch.device, grad_clip: float | None = None) -> tuple[float | None, list[str]]:
    """One optimizer step (the trainer's, and the benchmarks' that time training): the loss and the batch's
    greedy readings; returns (None, []) and leaves the weights alone when loss or gradient is not finite."""
    model.train()
    images, widths = pad_batch(batch.crops, min_widths(batch.labels, model.time_stride))
    log_probs = model(images.to(device))
    input_lengths = model.output_lengths(widths).clamp(max=log_probs.shape[0])
    loss = ctc_loss(log_probs, batch.labels, input_lengths, charset)
    optimizer.zero_grad(set_to_none=True)
    if not distributed.all_agree(bool(torch.isfinite(loss))):  # torchrun: all processes skip it, or none
        return None, []
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip else math.inf)
    if not torch.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        return None, []
    optimizer.step()
    decoded = decode_greedy(log_probs.detach().cpu().numpy(), input_lengths.numpy(), charset)
    return loss.item(), [text for text, _ in decoded]


@torch.inference_mode()
def validate(model: Recognizer, data: FolderSource, charset: Charset, device: torch.device,
             batch_size: int = 256) -> dict[str, float]:
    """val_loss, val_ca and val_wa of the model on preprocessed crops."""
    model.eval()
    order = sorted(range(len(data)), key=lambda i: data.images[i].shape[1])  # similar widths pad less
    predictions: dict[int, str] = {}
    loss_sum = 0.0
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        labels = [data.labels[i] for i in chunk]
        images, widths = pad_batch([data.images[i] for i in chunk], min_widths(labels, model.time_stride))
        log_probs = model(images.to(device)).float()
        lengths = model.output_lengths(widths).clamp(max=log_probs.shape[0])
        loss = ctc_loss(log_probs, labels, lengths, charset)
        loss_sum += float(loss) * len(chunk) if torch.isfinite(loss) else math.inf
        for i, (text, _) in zip(chunk, decode_greedy(log_probs.cpu().numpy(), lengths.numpy(), charset)):
            predictions[i] = text
    texts = [predictions[i] for i in range(len(data))]
    return {"val_loss": loss_sum / len(data), "val_ca": character_accuracy(texts, data.labels),
            "val_wa": word_accuracy(texts, data.labels)}


def _end_epoch(config: TrainConfig, epoch: float, model: Recognizer, optimizer: torch.optim.Optimizer,
               val_source: FolderSource, charset: Charset, device: torch.device,
               position: _Position, per_epoch: int,
               on_progress: Callable[[TrainProgress], None] | None) -> bool:
    """Validate, log, save last/ (and best/ when better), save the state; True when early stopping says stop."""
    sums = position.epoch_sums
    count = max(sums["n"], 1)
    row = {"epoch": round(epoch, 3), "train_loss": sums["loss"] / count,
           "train_ca": sums["ca"] / count, "train_wa": sums["wa"] / count}
    row.update(validate(model, val_source, charset, device))
    _refuse_divergence(config, epoch, model, row, sums["n"], sums.get("bad", 0.0))
    row = {column: row[column] for column in LOG_COLUMNS}
    position.history = [old for old in position.history if old["epoch"] != row["epoch"]] + [row]
    position.epoch_sums = dict.fromkeys(sums, 0.0)
    meta = {"charset": charset.chars, "preprocess": config.preprocess.to_mapping(),
            "training": config.to_mapping(), "metrics": row}
    if distributed.is_main():
        save_model(config.run_dir / "last", model, meta)
    value = row[config.monitor]
    improved = position.best is None or (value < position.best if config.monitor == "val_loss"
                                         else value > position.best)
    if improved:
        position.best = value
        position.epochs_without_improvement = 0
    else:
        position.epochs_without_improvement += 1
    if (improved or config.force_save) and distributed.is_main():
        save_model(config.run_dir / "best", model, meta)
    if distributed.is_main():
        write_log(position.history, config.run_dir / "log.csv")
        _save_state(config.run_dir / STATE_FILE, config, model, optimizer, position)
    if on_progress:
        on_progress(TrainProgress("epoch", math.ceil(epoch) - 1, per_epoch, per_epoch, position.step,
                                  row["train_loss"], optimizer.param_groups[0]["lr"], row))
    return config.patience is not None and position.epochs_without_improvement >= config.patience


def _refuse_divergence(config: TrainConfig, epoch: float, model: Recognizer, row: dict[str, float],
                       good: float, bad: float) -> None:
    """A run whose weights or validation loss are no longer finite, or whose epoch had as many batches with
    a NaN or infinite loss as good ones, has diverged: that is an error, and nothing of it is saved."""
    if not all(bool(torch.isfinite(parameter).all()) for parameter in model.parameters()):
        reason = "the weights are no longer finite"
    elif not math.isfinite(row["val_loss"]):
        reason = "the validation loss is no longer finite"
    elif bad >= max(good, 1):  # counted in crops, as `good` is
        reason = f"{bad / (good + bad):.0%} of the epoch's crops gave a NaN or infinite loss"
    else:
        return
    raise UserError(f"training diverged at epoch {epoch:g} ({reason}); nothing of it was saved: the learning "
                    f"rate ({config.lr:g}) is probably too high; try --lr {config.lr / 10:g}")


def write_log(history: list[dict[str, float]], path: Path) -> None:
    """The per-epoch CSV log with the seed's columns, rewritten atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({key: f"{value:.4f}" if key != "epoch" else f"{value:g}" for key, value in row.items()})
    write_text_atomically(path, buffer.getvalue())


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Loss, CA and WA per epoch, train against validation, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for axis, metric, title in zip(axes, ("loss", "ca", "wa"), ("CTC loss", "Character Accuracy", "Word Accuracy")):
        for split in ("train", "val"):
            axis.plot(epochs, [row[f"{split}_{metric}"] for row in history], marker=".", label=split)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


# --- resume state ---------------------------------------------------------------------------------

RESUME_MUST_MATCH = ("architecture", "charset", "batch_size", "seed", "epoch_size", "preprocess")


def _save_state(path: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                position: _Position) -> None:
    tensors = {f"model.{name}": value for name, value in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    for index, values in optimizer_state["state"].items():
        for key, value in values.items():
            tensors[f"optimizer.{index}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    document = {
        "digitocr_version": __version__,
        "config": config.to_mapping(),
        "position": to_mapping(position),
        "optimizer_groups": optimizer_state["param_groups"],
    }
    with atomic_path(path) as temporary:
        save_file({name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()},
                  str(temporary), metadata={"state": json.dumps(document)})


def _load_state(path: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer
                ) -> _Position:
    document, tensors = _read_state(path, with_tensors=True)
    saved = document["config"]
    current = config.to_mapping()
    for key in RESUME_MUST_MATCH:
        if saved[key] != current[key]:
            raise UserError(f"cannot resume {config.run_dir}: its {key} was {saved[key]!r}, "
                            f"now {current[key]!r}")
    model.load_state_dict({name[len("model."):]: value for name, value in tensors.items()
                           if name.startswith("model.")})
    optimizer_state: dict[str, Any] = {"state": {}, "param_groups": document["optimizer_groups"]}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            optimizer_state["state"].setdefault(int(index), {})[key] = value
    optimizer.load_state_dict(optimizer_state)
    torch.set_rng_state(tensors["rng.torch"])
    return from_mapping(_Position, document["position"], f"{path}: position")


def _read_state(path: Path, with_tensors: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A run's state: its JSON document (and tensors); a missing, truncated or foreign file is a UserError."""
    if not path.is_file():
        raise UserError(f"nothing to resume: {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as stored:
            document = json.loads((stored.metadata() or {})["state"])
            tensors = {name: stored.get_tensor(name) for name in stored.keys()} if with_tensors else {}  # noqa: SIM118
        if not isinstance(document, dict) or not {"config", "position", "optimizer_groups"} <= set(document):
            raise KeyError("state")
    except (SafetensorError, OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot resume from {path}: it is damaged or not a run state ({type(error).__name__}); "
                        "start the run again with --overwrite") from None
    return document, tensors


def resume_config(run_dir: Path, **changes: Any) -> TrainConfig:
    """The configuration a run was started with, with `changes` applied (e.g. more epochs)."""
    path = Path(run_dir) / STATE_FILE
    document, _ = _read_state(path, with_tensors=False)
    config = from_mapping(TrainConfig, document["config"], f"{path}: configuration")
    if config.data.is_empty():
        raise UserError(f"cannot resume {run_dir}: its state does not say what it trained on (a fit run of "
                        "digitocr 0.1.0?); run it again")
    return replace(config, run_dir=Path(run_dir), resume=True, **changes)  # the folder given, wherever it was
