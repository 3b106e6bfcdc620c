"""Training and evaluation data: labelled folders, the synthetic stream, weighted mixing, batches.

Batches are a pure function of (seed, epoch, batch index): that is what makes a killed-and-resumed
run identical to an uninterrupted one, and what lets background processes build batches (generate,
preprocess, augment) while the main process trains, without changing a single pixel.
This module stays free of torch so those processes start quickly.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

import cv2
import numpy as np

from digitocr.charset import Charset
from digitocr.errors import UserError
from digitocr.images import open_image
from digitocr.labels import list_labelled_files
from digitocr.mapping import Mapped
from digitocr.preprocess import Preprocess

if TYPE_CHECKING:  # the generator is imported when a synthetic stream is first drawn from
    from digitocr.synth.fonts import GlyphSource
    from digitocr.synth.generate import TextImageGenerator
    from digitocr.synth.options import GeneratorConfig


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass
class LabelledImages:
    """Decoded images with their labels, plus the files that could not be used and why."""

    images: list[np.ndarray] = field(default_factory=list)  # uint8, gray or RGB (digitocr.images)
    labels: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def load_labelled(folders: Sequence[Path | str], charset: Charset, strict: bool = False) -> LabelledImages:
    """Decode every labelled image of the folders; unusable files are skipped and listed (or, strict, fatal)."""
    result = LabelledImages()
    for folder in folders:
        for path, label in list_labelled_files(Path(folder)):
            reason = _unusable_label(label, charset)
            image = None
            if reason is None:
                image, reason = _decode(path)
            if reason is not None:
                if strict:
                    raise UserError(f"{path}: {reason}")
                result.skipped.append(SkippedFile(path, reason))
                continue
            assert image is not None  # decoded: no reason to skip it
            result.images.append(image)
            result.labels.append(label)
            result.paths.append(path)
    return result


def describe_skipped(skipped: Sequence[SkippedFile], shown: int = 3) -> str:
    """One line: how many files were skipped and the first few with their reasons."""
    names = "; ".join(f"{item.path.name} ({item.reason})" for item in skipped[:shown])
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f"skipped {len(skipped)} file(s): {names}{more}"


def _unusable_label(label: str, charset: Charset) -> str | None:
    if not label:
        return "empty label"
    missing = charset.missing(label)
    return f"label {label!r} has characters outside the charset" if missing else None


def _decode(path: Path) -> tuple[np.ndarray | None, str | None]:
    try:
        image = open_image(path, name=path.name)
    except UserError as error:
        return None, f"not a readable image ({str(error).removeprefix(f'cannot read {path.name}: ')})"
    if min(image.shape[:2]) < 2:
        return None, f"image too small ({image.shape[1]}x{image.shape[0]})"
    return image, None


# --- training sources -----------------------------------------------------------------------------

class Source(Protocol):
    """Something batches draw preprocessed uint8 crops from."""

    name: str

    def draw(self, rng: np.random.Generator, count: int, max_length: int | None
             ) -> list[tuple[np.ndarray, str]]: ...


def to_uint8(array: np.ndarray) -> np.ndarray:
    return np.round(array * 255.0).astype(np.uint8)


@dataclass
class FolderSource:
    """Preprocessed crops held in memory (uint8, height 32), drawn uniformly with replacement."""

    name: str
    images: list[np.ndarray]
    labels: list[str]

    @classmethod
    def from_labelled(cls, name: str, data: LabelledImages, preprocess: Preprocess) -> FolderSource:
        return cls(name, [to_uint8(preprocess(image)) for image in data.images], list(data.labels))

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, fraction: float, rng: np.random.Generator) -> tuple[FolderSource, FolderSource]:
        """(rest, held-out fraction): the seed's seeded random split."""
        order = rng.permutation(len(self))
        cut = max(1, round(len(self) * fraction)) if len(self) > 1 else 0
        held, rest = order[:cut], order[cut:]
        return self._subset(rest, self.name), self._subset(held, f"{self.name} (val split)")

    def _subset(self, indices: np.ndarray, name: str) -> FolderSource:
        return FolderSource(name, [self.images[i] for i in indices], [self.labels[i] for i in indices])

    def draw(self, rng: np.random.Generator, count: int, max_length: int | None
             ) -> list[tuple[np.ndarray, str]]:
        candidates = np.arange(len(self))
        if max_length is not None:
            short = [i for i, label in enumerate(self.labels) if len(label) <= max_length]
            candidates = np.array(short) if short else candidates
        return [(self.images[i], self.labels[i]) for i in rng.choice(candidates, size=count)]


class SyntheticSource:
    """Crops drawn from the generator on the fly (no disk), preprocessed like every other crop.

    `glyph_sources` (fonts, glyph banks) replace the fonts the generator options name."""

    def __init__(self, name: str, config: GeneratorConfig, preprocess: Preprocess,
                 glyph_sources: Sequence[GlyphSource] | None = None) -> None:
        self.name = name
        self.config = config
        self.preprocess = preprocess
        self.glyph_sources = list(glyph_sources) if glyph_sources is not None else None
        self._generator: TextImageGenerator | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_generator": None}  # the generator is rebuilt in each process

    @property
    def generator(self) -> TextImageGenerator:
        if self._generator is None:
            from digitocr.synth.generate import TextImageGenerator
            self._generator = TextImageGenerator(self.config, self.glyph_sources)
        return self._generator

    def draw(self, rng: np.random.Generator, count: int, max_length: int | None
             ) -> list[tuple[np.ndarray, str]]:
        samples = []
        for _ in range(count):
            for _attempt in range(20):  # curriculum: redraw long labels a few times, then accept
                image, label = self.generator.sample(rng)
                if max_length is None or len(label) <= max_length:
                    break
            samples.append((to_uint8(self.preprocess(image)), label))
        return samples


def synthetic_config(flags: str = "", config_file: Path | str | None = None) -> GeneratorConfig:
    """A GeneratorConfig from TRDG-style flags (as `digitocr generate` takes them) over an optional
    JSON/TOML file of generator options."""
    from digitocr.synth.flags import parse_generator_args

    argv = shlex.split(flags)
    return parse_generator_args([*argv, "--config", str(config_file)] if config_file else argv)


# --- augmentation and batches ---------------------------------------------------------------------

@dataclass(frozen=True)
class Augment:
    """Train-time distortions of preprocessed crops (the seed's last experiment), drawn per crop."""

    probability: float = 0.5
    max_rotation: float = 2.0       # degrees
    max_perspective: float = 0.04   # corner shift, as a fraction of the height
    max_padding: float = 0.4        # extra background on each side, as a fraction of the height

    def __call__(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.probability:
            return crop
        rows, cols = crop.shape
        corners = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], np.float32)
        angle = np.deg2rad(rng.uniform(-self.max_rotation, self.max_rotation))
        centre = np.array([cols / 2, rows / 2], np.float32)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
        moved = (corners - centre) @ rotation.T + centre
        moved += rng.uniform(-1, 1, size=(4, 2)).astype(np.float32) * self.max_perspective * rows
        homography = cv2.getPerspectiveTransform(corners, moved.astype(np.float32))
        warped = cv2.warpPerspective(crop, homography, (cols, rows), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=255)
        left, right = (int(rng.uniform(0, self.max_padding) * rows) for _ in range(2))
        return cv2.copyMakeBorder(warped, 0, 0, left, right, cv2.BORDER_CONSTANT, value=255)


@dataclass
class Batch:
    crops: list[np.ndarray]  # uint8 (32, width_i), dark ink on light
    labels: list[str]


@dataclass
class BatchMaker:
    """Builds batch (epoch, index) from weighted sources; a pure function of the seed and those numbers."""

    sources: list[Source]
    weights: list[float]
    batch_size: int
    seed: int
    augment: Augment | None = None
    curriculum_epochs: int = 0  # in epoch e < curriculum_epochs, labels are at most e + 2 characters
    parts: int = 1  # each batch is drawn in this many seeded parts (one per torchrun process)
    part: int | None = None  # the part this maker draws; None: all of them, in order

    def __post_init__(self) -> None:
        if self.batch_size % self.parts:
            raise UserError(f"a batch of {self.batch_size} does not split into {self.parts} equal parts")
        if not self.sources:
            raise UserError("no training data: give --data DIR or --synth FLAGS")
        if len(self.weights) != len(self.sources) or min(self.weights) <= 0:
            raise UserError("every data source needs a positive weight")
        total = sum(self.weights)
        self.probabilities = [weight / total for weight in self.weights]

    def max_length(self, epoch: int) -> int | None:
        return epoch + 2 if epoch < self.curriculum_epochs else None

    def make(self, epoch: int, index: int) -> Batch:
        if self.parts == 1:
            return self._draw(np.random.default_rng([self.seed, epoch, index]), self.batch_size, epoch)
        crops, labels = [], []
        for part in range(self.parts) if self.part is None else [self.part]:
            drawn = self._draw(np.random.default_rng([self.seed, epoch, index, part]),
                               self.batch_size // self.parts, epoch)
            crops += drawn.crops
            labels += drawn.labels
        return Batch(crops, labels)

    def _draw(self, rng: np.random.Generator, size: int, epoch: int) -> Batch:
        counts = np.bincount(rng.choice(len(self.sources), size=size, p=self.probabilities),
                             minlength=len(self.sources))
        crops, labels = [], []
        for source, count in zip(self.sources, counts):
            for crop, label in source.draw(rng, int(count), self.max_length(epoch)):
                crops.append(self.augment(crop, rng) if self.augment else crop)
                labels.append(label)
        return Batch(crops, labels)


def draw_fixed_set(sources: Sequence[Any], weights: Sequence[float], count: int, seed: int) -> FolderSource:
    """A fixed held-out set drawn from the sources (to validate on a synthetic stream), unaugmented.

    Its random stream is seeded apart from every training batch's ([seed, epoch, index])."""
    rng = np.random.default_rng([seed, 2**32 - 1, 0, 0])
    total = sum(weights)
    counts = np.bincount(rng.choice(len(sources), size=count, p=[weight / total for weight in weights]),
                         minlength=len(sources))
    drawn = [item for source, n in zip(sources, counts) for item in source.draw(rng, int(n), None)]
    return FolderSource("held-out synthetic", [crop for crop, _ in drawn], [label for _, label in drawn])


@dataclass
class SyntheticStream(Mapped):
    """A synthetic stream as generator options (GeneratorConfig fields), as `fit` composes them."""

    name: str
    options: dict[str, Any]
    weight: float = 1.0
    stroke_jitter: float = 0.0  # > 0: strokes drawn up to this much thinner or bolder (see StrokeJitter)


@dataclass
class DataSpec(Mapped):
    """What to train and validate on (kept in the run, so --resume can rebuild it exactly).

    Validation "auto": the --val folders, else a seeded split of the folders, else `val_size` held-out
    synthetic crops; "synthetic+folders" (fit): `val_size` held-out synthetic crops plus every folder crop.
    """

    MAPPING_NAME = "data"

    folders: list[tuple[str, float]] = field(default_factory=list)
    synthetic: list[tuple[str, float]] = field(default_factory=list)        # generator flags
    synthetic_files: list[tuple[str, float]] = field(default_factory=list)  # generator config files
    streams: list[SyntheticStream] = field(default_factory=list)
    val_folders: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    val_size: int = 500
    strict: bool = False
    validation: Literal["auto", "synthetic+folders"] = "auto"

    def is_empty(self) -> bool:
        return not (self.folders or self.synthetic or self.synthetic_files or self.streams)


@dataclass
class PreparedData:
    sources: list[tuple[Any, float]]
    validation: FolderSource
    skipped: list[SkippedFile]


def prepare_data(spec: DataSpec, charset: Charset, preprocess: Preprocess, seed: int) -> PreparedData:
    """Load, check and preprocess the folders, set up the synthetic streams and pick the validation set."""
    skipped: list[SkippedFile] = []
    folder_sources: list[tuple[FolderSource, float]] = []
    for folder, weight in spec.folders:
        source = _folder_source(folder, charset, preprocess, spec.strict, skipped)
        folder_sources.append((source, weight))
    synthetic: list[tuple[Any, float]] = []
    for flags, weight in spec.synthetic:
        synthetic.append((_synthetic_source(flags, synthetic_config(flags), charset, preprocess), weight))
    for path, weight in spec.synthetic_files:
        synthetic.append((_synthetic_source(path, synthetic_config(config_file=path), charset, preprocess), weight))
    for stream in spec.streams:
        synthetic.append((_stream_source(stream, charset, preprocess), stream.weight))
    if not folder_sources and not synthetic:
        raise UserError("no training data: give --data DIR or --synth FLAGS")
    if spec.validation == "synthetic+folders":
        validation = draw_fixed_set([s for s, _ in synthetic], [w for _, w in synthetic], spec.val_size, seed)
        for source, _ in folder_sources:
            validation.images += source.images
            validation.labels += source.labels
    elif spec.val_folders:
        validation = FolderSource("validation", [], [])
        for folder in spec.val_folders:
            part = _folder_source(folder, charset, preprocess, spec.strict, skipped)
            validation.images += part.images
            validation.labels += part.labels
    elif folder_sources:
        rng = np.random.default_rng(seed)
        split = [(source.split(spec.val_fraction, rng), weight) for source, weight in folder_sources]
        folder_sources = [(rest, weight) for (rest, _), weight in split]
        validation = FolderSource("validation split", [crop for (_, held), _ in split for crop in held.images],
                                  [label for (_, held), _ in split for label in held.labels])
        folder_sources = [(source, weight) for source, weight in folder_sources if len(source)]
        if not folder_sources and not synthetic:
            raise UserError("too few images to hold 20% out for validation: add images or give --val DIR")
    else:
        validation = draw_fixed_set([s for s, _ in synthetic], [w for _, w in synthetic], spec.val_size, seed)
    return PreparedData([*folder_sources, *synthetic], validation, skipped)


def _folder_source(folder: str, charset: Charset, preprocess: Preprocess, strict: bool,
                   skipped: list[SkippedFile]) -> FolderSource:
    data = load_labelled([folder], charset, strict)
    skipped += data.skipped
    if not data.labels:
        detail = f" ({describe_skipped(data.skipped)})" if data.skipped else ""
        raise UserError(f"no usable labelled images in {folder}{detail}")
    return FolderSource.from_labelled(str(folder), data, preprocess)


def _stream_source(stream: SyntheticStream, charset: Charset, preprocess: Preprocess) -> SyntheticSource:
    from digitocr.synth.generate import TextImageGenerator
    from digitocr.synth.glyphs import StrokeJitter
    from digitocr.synth.options import GeneratorConfig

    config = GeneratorConfig.from_mapping(stream.options)
    glyph_sources = None
    if stream.stroke_jitter:
        glyph_sources = [StrokeJitter(source, stream.stroke_jitter) for source in TextImageGenerator(config).fonts]
    return _checked(SyntheticSource(stream.name, config, preprocess, glyph_sources), stream.name, charset)


def _synthetic_source(name: str, config: GeneratorConfig, charset: Charset, preprocess: Preprocess
                      ) -> SyntheticSource:
    return _checked(SyntheticSource(f"synthetic {name}".strip(), config, preprocess), name, charset)


def _checked(source: SyntheticSource, name: str, charset: Charset) -> SyntheticSource:
    unknown = charset.missing(source.generator.label_characters())
    if unknown:
        raise UserError(f"the generator options {name!r} make labels with characters outside the charset "
                        f"{charset.chars!r}: {''.join(sorted(unknown))!r}")
    return source


class BatchStream:
    """Batches in order from global batch number `start` on, built by `workers` background processes.

    Worker k builds batches k, k + workers, ...; reading their queues in turn keeps the order, so the
    stream is the same whatever the number of workers (0 builds them in this process).
    """

    def __init__(self, maker: BatchMaker, batches_per_epoch: int, start: int, workers: int) -> None:
        self.maker = maker
        self.batches_per_epoch = batches_per_epoch
        self.start = start
        self.workers = workers
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._queues: list[Any] = []

    def __enter__(self) -> Self:
        # spawn, not fork: a forked child deadlocks in OpenCV's thread pool once the parent has used it.
        context = multiprocessing.get_context("spawn")
        for worker in range(self.workers):
            batches = context.Queue(maxsize=4)
            process = context.Process(target=_produce, daemon=True, args=(
                self.maker, self.batches_per_epoch, self.start + worker, self.workers, batches, os.getpid()))
            process.start()
            self._queues.append(batches)
            self._processes.append(process)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout=5)
        for batches in self._queues:
            batches.close()
            batches.cancel_join_thread()
        self._processes, self._queues = [], []

    def __iter__(self) -> Iterator[tuple[int, int, Batch]]:
        number = self.start
        while True:
            epoch, index = divmod(number, self.batches_per_epoch)
            if self.workers == 0:
                yield epoch, index, self.maker.make(epoch, index)
            else:
                yield epoch, index, self._receive(self._queues[(number - self.start) % self.workers])
            number += 1

    def _receive(self, batches: Any) -> Batch:
        while True:
            try:
                item = batches.get(timeout=1.0)
            except queue.Empty:
                if not all(process.is_alive() for process in self._processes):
                    raise RuntimeError("a data worker died; run with --workers 0 to see why") from None
                continue
            if isinstance(item, BaseException):
                raise item
            return item


def _produce(maker: BatchMaker, batches_per_epoch: int, first: int, step: int, batches: Any, parent: int) -> None:
    """Worker loop: build every `step`-th batch from `first` on; exit when the trainer is gone."""
    _die_with(parent)
    batches.cancel_join_thread()  # at exit, never wait to flush batches nobody will read
    cv2.setNumThreads(1)
    number = first
    while True:
        epoch, index = divmod(number, batches_per_epoch)
        try:
            item: Batch | Exception = maker.make(epoch, index)
        except Exception as error:  # noqa: BLE001 - handed to the trainer, which re-raises it
            item = error
        while True:
            try:
                batches.put(item, timeout=1.0)
                break
            except queue.Full:
                if os.getppid() != parent:  # the trainer was killed: do not linger
                    return
        if isinstance(item, Exception):
            return
        number += step


def _die_with(parent: int) -> None:
    """End this worker when the trainer ends, even by kill -9: on Linux the kernel sends SIGKILL at the
    parent's death (PR_SET_PDEATHSIG); elsewhere the worker notices within a second (see _produce)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)


def batches_per_epoch(epoch_size: int, batch_size: int) -> int:
    return max(1, math.ceil(epoch_size / batch_size))

