"""`Reader`: a model folder turned into checked readings, over ONNX Runtime (no torch) or torch.

A reading carries its text, the number it shows, how sure the network was (as a whole and per character),
the runner-up, and a status a program can act on: `ok`, `out_of_format` (no reading the network allowed fits
the field's format), `out_of_range` (the number cannot be right for the field), `low_confidence`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from digitocr.charset import Charset
from digitocr.errors import UserError
from digitocr.formats import (
    Decoded,
    NumberFormat,
    constrained_candidates,
    decode_best_paths,
    parse_format,
    text_probabilities,
)
from digitocr.images import ImageSource, open_image
from digitocr.preprocess import Preprocess
from digitocr.pretrained import default_model_dir
from digitocr.profile import Profile, Region, crop_regions

Box = tuple[int, int, int, int]
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
WEIGHTS_FILE = "model.safetensors"  # as digitocr.modelio writes it (that module imports torch)


@dataclass(frozen=True)
class Reading:
    """What a crop says, and how far to trust it."""

    text: str
    confidence: float  # probability of the text (all its CTC paths), 0..1
    value: int | float | None = None  # the number, when the text is one (and fits the format)
    char_confidences: tuple[float, ...] = ()
    alternative: str | None = None  # the runner-up reading
    alternative_confidence: float = 0.0
    status: str = "ok"  # "ok" | "out_of_format" | "out_of_range" | "low_confidence"
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with probabilities rounded to 4 places."""
        return {"text": self.text, "confidence": round(self.confidence, 4), "value": self.value,
                "char_confidences": [round(value, 4) for value in self.char_confidences],
                "alternative": self.alternative, "alternative_confidence": round(self.alternative_confidence, 4),
                "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class Checks:
    """What a reading of one field must satisfy."""

    format: NumberFormat | None = None
    value_range: tuple[float, float] | None = None
    min_confidence: float = 0.5


class Backend(Protocol):
    name: str
    largest_batch: int  # crops per call at most, whatever the reader's batch_size

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, int]:
        """(B, 1, H, W) float32 crops of width W -> (T, B, C) log-probabilities and how many of the T time
        steps are each crop's."""
        ...


class OnnxBackend:
    """ONNX Runtime over the folder's model.onnx (made by `digitocr export`)."""

    name = "onnx"
    largest_batch = 16  # 8 to 16 crops per call read 15-25% faster per crop than 128 (activations fit the caches)

    def __init__(self, folder: Path, meta: dict[str, Any], int8: bool = False) -> None:
        import onnxruntime
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        entry = read_onnx_entry(folder, meta)
        self.name = "onnx-int8" if int8 else "onnx"
        graph = onnx_graph_file(entry, int8)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1  # a tiny network's operators are too small to share: the reader runs
        # `threads` calls at once instead
        try:
            self._session = onnxruntime.InferenceSession(str(folder / graph), options,
                                                         providers=["CPUExecutionProvider"])
        except (ort_errors.InvalidProtobuf, ort_errors.Fail, ort_errors.NoSuchFile, ort_errors.InvalidGraph,
                ort_errors.NotImplemented) as error:
            raise UserError(f"cannot load {folder / graph}: {str(error).splitlines()[0]}") from None
        height = self._session.get_inputs()[0].shape[2]
        height = height if isinstance(height, int) else int(meta.get("input_height", 32))
        probe = self._session.run(None, {"images": np.ones((1, 1, height, 4 * height), np.float32)})[0]
        if not np.isfinite(probe).all():  # weights made NaN or infinite after export
            raise UserError(f"{folder / graph} computes non-finite numbers (NaN or infinite weights): "
                            f"run `digitocr export {folder}` again from good weights")
        self._stride = int(entry["time_stride"])
        self._offset = int(entry["time_offset"])

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, int]:
        log_probs = self._session.run(None, {"images": batch})[0]
        return log_probs, min(batch.shape[3] // self._stride + self._offset, log_probs.shape[0])


class TorchBackend:
    """The torch model, rearranged for inference."""

    name = "torch"
    largest_batch = 1 << 30

    def __init__(self, folder: Path, threads: int | None) -> None:
        try:
            import torch
        except ImportError:
            raise UserError(f"{folder} has no model.onnx, and reading without one needs torch: run `digitocr "
                            f"export {folder}` where torch is installed (pip install 'digitocr[train]')") from None

        from digitocr.modelio import load_model
        from digitocr.models import optimize_for_inference

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._model = optimize_for_inference(load_model(folder).model)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, int]:
        torch = self._torch
        with torch.inference_mode():
            images = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
            log_probs = self._model(images)
            steps = int(self._model.output_lengths(torch.tensor([batch.shape[3]]))[0])
        return log_probs.numpy(), min(steps, log_probs.shape[0])


def read_onnx_entry(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """model.json's `onnx` entry, checked to come from the folder's present weights."""
    entry = meta.get("onnx")
    if not isinstance(entry, dict) or entry.get("weights_sha256") != weights_digest(folder):
        raise UserError(f"{folder / 'model.onnx'} was not made from this folder's weights (trained again "
                        f"since?): run `digitocr export {folder}`")
    return entry


def onnx_graph_file(entry: dict[str, Any], int8: bool) -> str:
    """The graph an `onnx` entry names: model.onnx, or with `int8` the 8-bit copy of `export --int8`."""
    return entry["int8"]["file"] if int8 else entry["file"]


def weights_digest(folder: Path) -> str:
    """SHA-256 of a model folder's weights: model.json's `onnx` entry names the weights its graph came from."""
    return hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()


class Reader:
    """Reads crops (or the regions of a screen) with a model folder.

    `backend="auto"` takes ONNX Runtime when the folder has model.onnx and onnxruntime is installed (no torch
    is imported then), torch otherwise; `"onnx-int8"` reads with the 8-bit graph of `digitocr export --int8`
    (faster, and a few readings differ from torch's). `format`, `value_range` and `min_confidence` are the
    defaults for every read; a profile's regions and `read`'s arguments override them. Up to `batch_size`
    crops of one width go through the network at once (16 at most on ONNX Runtime, whose small calls keep
    activations in the CPU's caches); `threads` is torch's thread count, or how many ONNX Runtime calls run
    at once (give the CPU count for large batches; one call at a time by default).
    """

    def __init__(self, model: str | Path | None = None, *, backend: str = "auto", threads: int | None = None,
                 batch_size: int = 128, format: str | None = None,
                 value_range: tuple[float, float] | None = None, min_confidence: float = 0.5) -> None:
        if backend not in BACKENDS:
            raise UserError(f"backend is one of {', '.join(BACKENDS)}, got {backend!r}")
        self.model_dir = Path(model) if model is not None else default_model_dir()  # the shipped general model
        self.meta = _read_meta(self.model_dir)
        self.charset = Charset(self.meta["charset"])
        self.preprocess = Preprocess.from_mapping(self.meta["preprocess"])
        self.batch_size = batch_size
        self.threads = threads
        self.backend = _choose_backend(backend, self.model_dir, self.meta)
        self._backend: Backend = (TorchBackend(self.model_dir, threads) if self.backend == "torch"
                                  else OnnxBackend(self.model_dir, self.meta, int8=self.backend == "onnx-int8"))
        self.checks = self._checks(format, value_range, min_confidence, f"model {self.model_dir}")
        # ONNX Runtime runs `threads` network calls at once (each on one thread: faster than splitting a small
        # network's operators, measured in benchmarks/bench_read.py); torch splits each call itself.
        self._pool = (ThreadPoolExecutor(threads, thread_name_prefix="digitocr-reader")
                      if self.backend != "torch" and threads is not None and threads > 1 else None)
        self._others: dict[str, Reader] = {}

    def _checks(self, format: str | None, value_range: tuple[float, float] | None, min_confidence: float | None,
                where: str, base: Checks | None = None) -> Checks:
        """Checks from the given options, falling back to `base` (the reader's own) for those not given."""
        base = base or Checks()
        fmt = _format(format) if format is not None else base.format
        if fmt is not None and format is not None:
            fmt.check_charset(self.charset, where)
        if value_range is not None:
            low, high = value_range
            if low > high:
                raise UserError(f"{where}: value range [{low}, {high}] has low > high")
        return Checks(fmt, tuple(value_range) if value_range is not None else base.value_range,  # type: ignore
                      min_confidence if min_confidence is not None else base.min_confidence)

    def read(self, image: ImageSource, region: Box | Region | None = None, *, format: str | None = None,
             value_range: tuple[float, float] | None = None) -> Reading:
        """Read one crop, or one region of a screenshot: a pixel box (x0, y0, x1, y1) or a profile `Region`
        (its box, refinement and checks)."""
        checks = self._checks_of(region, format, value_range)
        log_probs, lengths = self._run([self.preprocess(self._cropped(image, region))])  # no batching to do
        return decode_readings(log_probs, lengths, self.charset, [checks])[0]

    def read_batch(self, images: Sequence[ImageSource], region: Box | Region | None = None, *,
                   format: str | None = None, value_range: tuple[float, float] | None = None) -> list[Reading]:
        """Read many crops at once (crops of one width share a network call: much faster than one by one)."""
        checks = self._checks_of(region, format, value_range)
        batches = _Batches(self)
        for index, image in enumerate(images):  # full batches run while the next crops are prepared
            batches.add(index, self.preprocess(self._cropped(image, region)))
        return self._decoded(batches, [checks] * len(images))

    def _checks_of(self, region: Box | Region | None, format: str | None,
                   value_range: tuple[float, float] | None) -> Checks:
        """The checks of a read: the reader's, overridden by the region's, overridden by the read's own."""
        checks = self.checks
        if isinstance(region, Region):
            checks = self._checks(region.format, region.value_range, region.min_confidence, f"region {region.name!r}")
        if format is not None or value_range is not None:
            checks = self._checks(format, value_range, None, f"model {self.model_dir}", checks)
        return checks

    @staticmethod
    def _cropped(image: ImageSource, region: Box | Region | None) -> ImageSource:
        """The region of the image (the image itself without one). An array is cropped before it is converted:
        a 4K grab costs its box."""
        if isinstance(region, Region):
            return crop_regions(image, _lone_profile(region))[region.name]
        if region is not None:
            return crop_box(image if isinstance(image, np.ndarray) and image.ndim in (2, 3) else open_image(image),
                            region)
        return image

    def read_screen(self, frame: ImageSource, profile: Profile) -> dict[str, Reading]:
        """One reading per region of the profile, each with its own model, format, range and threshold.
        Regions that share a model go through the network as one batch."""
        crops = crop_regions(frame, profile)
        groups: dict[str, list[str]] = {}
        for name, region in profile.regions.items():
            groups.setdefault(region.model or profile.model or str(self.model_dir), []).append(name)
        readings: dict[str, Reading] = {}
        for model, names in groups.items():
            reader = self._reader_for(model)
            checks = [reader._checks(profile.regions[name].format, profile.regions[name].value_range,
                                     profile.regions[name].min_confidence, profile.where(name)) for name in names]
            results = reader.read_preprocessed([reader.preprocess(crops[name]) for name in names], checks)
            readings.update(zip(names, results))
        return {name: readings[name] for name in profile.regions}

    def _reader_for(self, model: str) -> Reader:
        """This reader for its own model folder; another one (same backend choice) for another folder."""
        if model not in self._others:
            same = Path(model).resolve() == self.model_dir.resolve()
            self._others[model] = self if same else Reader(
                model, backend="auto" if self.backend == "torch" else self.backend, threads=self.threads,
                batch_size=self.batch_size)
        return self._others[model]

    def read_preprocessed(self, crops: Sequence[np.ndarray], checks: Sequence[Checks] | None = None
                          ) -> list[Reading]:
        """Read crops that already went through `self.preprocess` (each with its own checks, if given).

        Only crops of the same width share a network call, so no crop is ever padded: a crop reads the same
        (text and confidence) alone, in any batch, and on either backend."""
        batches = _Batches(self)
        for index, crop in enumerate(crops):
            batches.add(index, crop)
        return self._decoded(batches, checks if checks is not None else [self.checks] * len(crops))

    def _decoded(self, batches: _Batches, checks: Sequence[Checks]) -> list[Reading]:
        """The readings of every crop given to `batches`, in the order of their indices."""
        readings: list[Reading | None] = [None] * len(checks)
        for indices, log_probs, lengths in _merged(batches.outputs()):
            for i, reading in zip(indices, decode_readings(log_probs, lengths, self.charset,
                                                            [checks[i] for i in indices])):
                readings[i] = reading
        return readings  # type: ignore[return-value]

    def _run(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The network's (T, B, C) outputs and time steps for crops of one width."""
        batch = np.stack(crops)[:, None] if len(crops) > 1 else np.ascontiguousarray(crops[0])[None, None]
        log_probs, steps = self._backend.run(batch)
        return log_probs, np.array([steps] * len(crops))


class _Batches:
    """Preprocessed crops gathered into network calls: crops of one width, at most a batch per call.

    A full batch starts at once, on the reader's pool when it has one, so on ONNX Runtime the network works
    on the first crops while the calling thread still preprocesses the rest (OpenCV and ONNX Runtime both
    let go of the GIL); what is left runs when the outputs are asked for."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._size = min(reader.batch_size, reader._backend.largest_batch)
        self._open: dict[int, tuple[list[int], list[np.ndarray]]] = {}  # width -> indices and crops
        self._started: list[tuple[list[int], Future[tuple[np.ndarray, np.ndarray]] | None, list[np.ndarray]]] = []

    def add(self, index: int, crop: np.ndarray) -> None:
        indices, crops = self._open.setdefault(crop.shape[1], ([], []))
        indices.append(index)
        crops.append(crop)
        if len(crops) == self._size:
            self._start(*self._open.pop(crop.shape[1]))

    def _start(self, indices: list[int], crops: list[np.ndarray]) -> None:
        pool = self._reader._pool
        self._started.append((indices, pool.submit(self._reader._run, crops) if pool else None, crops))

    def outputs(self) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """Each call's crop indices, (T, B, C) outputs and time steps. The calls not yet started go to the
        pool but the last, which runs here, in the calling thread, while the pool works on the others (a
        lone call, or a screen's two regions of different widths, would only wait for the pool otherwise)."""
        pending = list(self._open.values())
        self._open.clear()
        for indices, crops in pending[:-1]:
            self._start(indices, crops)
        if pending:
            yield pending[-1][0], *self._reader._run(pending[-1][1])
        for indices, future, crops in self._started:
            yield indices, *(future.result() if future is not None else self._reader._run(crops))


DECODE_BATCH = 512  # network outputs decoded at once (decoding costs mostly per call, not per crop)


def _merged(outputs: Iterable[tuple[list[int], np.ndarray, np.ndarray]]
            ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """Network calls' (T, B, C) outputs laid side by side, up to DECODE_BATCH crops at a time, with their
    indices and time steps: one decoding call for many small calls (decoding stops at each crop's own
    length, so what lies beyond it does not matter)."""
    pending: list[tuple[list[int], np.ndarray, np.ndarray]] = []

    def merge() -> tuple[list[int], np.ndarray, np.ndarray]:
        if len(pending) == 1:
            return pending[0]
        steps = max(log_probs.shape[0] for _, log_probs, _ in pending)
        merged = np.zeros((steps, sum(len(chunk) for chunk, _, _ in pending), pending[0][1].shape[2]),
                          dtype=pending[0][1].dtype)
        start = 0
        for chunk, log_probs, _ in pending:
            merged[: log_probs.shape[0], start:start + len(chunk)] = log_probs
            start += len(chunk)
        return ([i for chunk, _, _ in pending for i in chunk], merged,
                np.concatenate([lengths for _, _, lengths in pending]))

    count = 0
    for chunk, log_probs, lengths in outputs:
        pending.append((chunk, log_probs, lengths))
        count += len(chunk)
        if count >= DECODE_BATCH:
            yield merge()
            pending, count = [], 0
    if pending:
        yield merge()


@functools.lru_cache(maxsize=256)
def _format(spec: str) -> NumberFormat:
    return parse_format(spec)


def _lone_profile(region: Region) -> Profile:
    return Profile(None, region.name, None, False, region.model, {region.name: region})


def _read_meta(folder: Path) -> dict[str, Any]:
    """model.json, checked for what reading needs (torch-free twin of modelio.read_meta's checks)."""
    if not folder.is_dir():
        raise UserError(f"no model folder at {folder}")
    path = folder / "model.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder} is not a model folder: model.json is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path} must hold a JSON object")
    if missing := {"charset", "preprocess"} - set(meta):
        raise UserError(f"{path} lacks {', '.join(sorted(missing))}")
    if not isinstance(meta["charset"], str) or not isinstance(meta["preprocess"], dict):
        raise UserError(f"{path}: charset must be a string and preprocess a JSON object")
    return meta


def _choose_backend(backend: str, folder: Path, meta: dict[str, Any]) -> str:
    has_onnx = (folder / "model.onnx").is_file()
    if backend in ("onnx", "onnx-int8") and not has_onnx:
        raise UserError(f"{folder} has no model.onnx: run `digitocr export {folder}`")
    entry = meta.get("onnx")
    int8 = entry.get("int8") if isinstance(entry, dict) else None
    if backend == "onnx-int8" and not (isinstance(int8, dict) and isinstance(int8.get("file"), str)):
        raise UserError(f"{folder} has no 8-bit graph: run `digitocr export --int8 {folder}`")
    if backend != "auto":
        return backend
    if has_onnx:
        try:
            import onnxruntime  # noqa: F401
            return "onnx"
        except ImportError:
            pass
    return "torch"


def decode_readings(log_probs: np.ndarray, lengths: np.ndarray, charset: Charset, checks: Sequence[Checks]
                    ) -> list[Reading]:
    """A (T, B, C) batch of network outputs -> one checked Reading per item.

    The text is the best path or, when that does not fit the item's format, the most probable path that
    does; the confidence is the probability of the text (not of one path), and so is the runner-up's."""
    readings = []
    for item, decoded in enumerate(decode_best_paths(log_probs, lengths, charset)):
        fmt = checks[item].format
        fits = fmt is None or fmt.fits(decoded.text)
        if fmt is not None and not fits:
            constrained = _constrained(log_probs[: lengths[item], item], charset, fmt)
            decoded, fits = (constrained, True) if constrained is not None else (decoded, False)
        elif fmt is not None and decoded.alternative is not None and not fmt.fits(decoded.alternative):
            decoded = replace(decoded, alternative=None, alternative_confidence=0.0)
        readings.append(_checked(decoded, checks[item], fits))
    return readings


def decode_reading(log_probs: np.ndarray, charset: Charset, checks: Checks) -> Reading:
    """One crop's (T, C) log-probabilities -> a checked Reading."""
    return decode_readings(log_probs[:, None, :], np.array([len(log_probs)]), charset, [checks])[0]


def _constrained(log_probs: np.ndarray, charset: Charset, fmt: NumberFormat) -> Decoded | None:
    """The two most probable texts that fit `fmt` (None when none does), with their probabilities."""
    candidates = constrained_candidates(log_probs, charset, fmt)[:2]
    if not candidates:
        return None
    texts = [text for text, _, _ in candidates]
    probabilities = text_probabilities(log_probs[:, None, :], np.array([len(log_probs)]),
                                       [charset.encode(text) for text in texts], [0] * len(texts)).tolist()
    return Decoded(texts[0], probabilities[0], tuple(candidates[0][2]), texts[1] if len(texts) > 1 else None,
                   probabilities[1] if len(texts) > 1 else 0.0)


def _checked(decoded: Decoded, checks: Checks, fits: bool) -> Reading:
    """The Reading with its value parsed and its status decided: format (`fits`: whether the text fits the
    checks' format, found out by the caller), then range, then confidence."""
    fmt, text, confidence = checks.format, decoded.text, decoded.confidence
    status, reason = "ok", ""
    value = (fmt.parser(text) if fmt is not None else _plain_number(text)) if fits else None
    if not fits and fmt is not None:
        status, reason = "out_of_format", f"no reading fits the format {fmt.name!r} (the likeliest is {text!r})"
    elif checks.value_range is not None:
        low, high = checks.value_range
        if value is None:
            status, reason = "out_of_format", f"{text!r} is not a number"
        elif not low <= value <= high:
            status, reason = "out_of_range", f"{value} is outside [{_show(low)}, {_show(high)}]"
    if status == "ok" and confidence < checks.min_confidence:
        status, reason = "low_confidence", f"confidence {confidence:.3f} is below {checks.min_confidence}"
    return Reading(text, confidence, value, decoded.char_confidences, decoded.alternative,
                   decoded.alternative_confidence, status, reason)


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _plain_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_box(text: str) -> Box:
    """'x0,y0,x1,y1' -> a box (UserError otherwise)."""
    try:
        x0, y0, x1, y1 = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"a region is x0,y0,x1,y1 in whole pixels, got {text!r}") from None
    return x0, y0, x1, y1


def crop_box(image: np.ndarray, box: Box) -> np.ndarray:
    """The (x0, y0, x1, y1) box of the image, checked to lie inside it and to be non-empty."""
    x0, y0, x1, y1 = box
    height, width = image.shape[:2]
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise UserError(f"region {x0},{y0},{x1},{y1} is not inside the {width}x{height} image")
    return image[y0:y1, x0:x1]
