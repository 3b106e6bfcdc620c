"""`watch`: read every region of every frame of a source, with plausibility over time.

Per frame, a region whose pixels did not change is not read again (its last reading stands). Per region, a
reading is *doubtful* when the reader flags it (out of format or range, below the confidence threshold), when it
changes faster than the region's `max_rate` allows, or when it breaks the region's `monotonic` direction; the
region then keeps its last good value and is marked stale. A new value that breaks the rules but goes on being
read consistently for `persist` seconds (a counter reset, a new level) becomes the good value.

Rows go to sinks: JSONL and CSV (one line per frame, flushed, so another program can follow them through a pipe
and an interrupted watch leaves complete files), doubtful crops saved for labelling, and a plot at the end.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from digitocr.capture import frame_stamp, unused_path
from digitocr.files import atomic_path, check_output
from digitocr.frames import Frame, FrameSource, paced_frames
from digitocr.images import save_image
from digitocr.profile import Profile, Region
from digitocr.reader import Reader, Reading

RECORDED_TOLERANCE = 64  # grey levels: above video compression noise (up to about 50), far below a digit change


@dataclass(frozen=True)
class RegionValue:
    """One region in one frame, after the checks over time."""

    value: int | float | None  # the last good value (None until there is one)
    text: str                  # what the reader read (this frame, or last time the pixels changed)
    confidence: float
    status: str                # "ok" | "stale" (this reading was doubtful: value is the last good one) | "unread"
    reason: str = ""           # why it is stale
    fresh: bool = True         # read in this frame (False: pixels unchanged, the last reading stands)
    rate: float | None = None  # change of the good value per second, over about the last second

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "text": self.text, "confidence": round(self.confidence, 4),
                "status": self.status, "reason": self.reason, "fresh": self.fresh,
                "rate": None if self.rate is None else round(self.rate, 4)}


@dataclass(frozen=True)
class WatchRow:
    """Every region of one frame."""

    time: float  # seconds since the epoch (live) or into the video
    index: int
    regions: dict[str, RegionValue]

    def to_dict(self) -> dict[str, Any]:
        return {"time": round(self.time, 3), "frame": self.index,
                "regions": {name: value.to_dict() for name, value in self.regions.items()}}


def _step(reading: Reading) -> float:
    """The smallest change the display can show: 1 for whole numbers, 0.1 for one decimal, ..."""
    decimals = reading.text.rsplit(".", 1)[1] if "." in reading.text else ""
    return 10.0 ** -sum(character.isdigit() for character in decimals)


class RegionTracker:
    """The plausibility of one region's readings over time."""

    def __init__(self, region: Region, *, min_confidence: float | None = None, persist: float = 2.0) -> None:
        self.region = region
        self.min_confidence = min_confidence if min_confidence is not None else (region.min_confidence or 0.0)
        self.persist = persist
        self._good: tuple[float, int | float] | None = None  # (time, value)
        self._candidate: tuple[float, float, float] | None = None  # (time, value, since): a consistent newcomer
        self._history: deque[tuple[float, float]] = deque()  # good values of about the last second, for the rate

    def _breaks_rules(self, value: float, time: float, before: tuple[float, int | float], step: float) -> str:
        """Why `value` at `time` cannot follow `before` (time, value); "" when it can."""
        then, previous = before
        change = value - previous
        if self.region.monotonic == "increasing" and change < 0:
            return f"went down from {previous:g} (monotonic increasing)"
        if self.region.monotonic == "decreasing" and change > 0:
            return f"went up from {previous:g} (monotonic decreasing)"
        rate = self.region.max_rate
        if rate is not None and abs(change) > rate * max(time - then, 0.0) + step + 1e-9:
            return f"changed by {change:+g} in {time - then:.2f} s (max_rate {rate:g}/s)"
        return ""

    def update(self, reading: Reading, time: float, fresh: bool = True) -> RegionValue:
        """The region's value after `reading` at `time` (`fresh`: read now rather than carried over)."""
        reason = ""
        if not reading.ok:
            reason = reading.reason or reading.status.replace("_", " ")
        elif reading.confidence < self.min_confidence:
            reason = f"confidence {reading.confidence:.2f} below {self.min_confidence:g}"
        elif reading.value is None:
            reason = f"{reading.text!r} is not a number"
        else:
            value = float(reading.value)
            step = _step(reading)
            if self._good is not None and (reason := self._breaks_rules(value, time, self._good, step)):
                candidate = self._candidate
                if candidate is None or self._breaks_rules(value, time, candidate[:2], step):
                    self._candidate = (time, value, time)
                else:
                    self._candidate = (time, value, candidate[2])
                if time - self._candidate[2] >= self.persist:
                    reason = ""  # read consistently for long enough: the display really changed
            if not reason:
                self._accept(reading.value, time)
        good = None if self._good is None else self._good[1]
        status = "ok" if not reason else ("stale" if good is not None else "unread")
        return RegionValue(good, reading.text, reading.confidence, status, reason, fresh, self._rate())

    def _accept(self, value: float, time: float) -> None:
        self._good = (time, value)
        self._candidate = None
        self._history.append((time, float(value)))
        while len(self._history) > 2 and time - self._history[1][0] >= 1.0:
            self._history.popleft()

    def _rate(self) -> float | None:
        if len(self._history) < 2 or self._history[-1][0] <= self._history[0][0]:
            return None
        (start, first), (end, last) = self._history[0], self._history[-1]
        return (last - first) / (end - start)


class Watcher:
    """Reads a profile's regions frame after frame, re-reading only regions whose pixels changed: some pixel by
    more than `tolerance` grey levels. By default that is any change for live sources (screen grabs are exact)
    and more than 64 levels for recorded ones (compression makes every frame differ a little; a digit that
    changes differs by about 255)."""

    def __init__(self, reader: Reader, profile: Profile, *, min_confidence: float | None = None,
                 tolerance: int | None = None, persist: float = 2.0) -> None:
        self.reader = reader
        self.profile = profile
        self.tolerance = tolerance
        self.trackers = {name: RegionTracker(region, min_confidence=min_confidence, persist=persist)
                         for name, region in profile.regions.items()}
        self._boxes: dict[str, tuple[int, int, int, int]] = {}
        self._size: tuple[int, int] | None = None
        self._crops: dict[str, np.ndarray] = {}
        self._readings: dict[str, Reading] = {}
        self._readers: dict[str, Reader] = {}
        self.reads = 0  # region readings made (the rest were skipped as unchanged)

    def boxes(self, width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
        """Each region's pixel box on a frame of this size (checked once per size)."""
        if self._size != (width, height):
            self._boxes = {name: region.pixel_box(width, height, self.profile)
                           for name, region in self.profile.regions.items()}
            self._size = (width, height)
        return self._boxes

    def _changed(self, name: str, crop: np.ndarray) -> bool:
        before = self._crops.get(name)
        if before is None or before.shape != crop.shape:
            return True
        return cv2.norm(before, crop, cv2.NORM_INF) > (self.tolerance or 0)  # the largest pixel difference

    def _changes(self, frame: Frame) -> dict[str, np.ndarray]:
        """The raw crops of the regions whose pixels changed since they were last read (remembered as read).
        They are compared in the source's own channel order, so a frame with none changed is never converted."""
        height, width = frame.raw.shape[:2]
        crops = {name: frame.raw[y0:y1, x0:x1] for name, (x0, y0, x1, y1) in self.boxes(width, height).items()}
        changed = {name: crop for name, crop in crops.items() if self._changed(name, crop)}
        self._crops.update({name: crop.copy() for name, crop in changed.items()})
        return changed

    def _reader_for(self, region: Region) -> Reader:
        """The reader of the region's model (the profile's, else the watch's own)."""
        model = region.model or self.profile.model
        if model is None or Path(model) == self.reader.model_dir:
            return self.reader
        if model not in self._readers:
            self._readers[model] = Reader(model, backend=self.reader.backend, threads=self.reader.threads)
        return self._readers[model]

    def steps(self, frames: list[Frame]) -> Iterator[tuple[WatchRow, dict[str, np.ndarray]]]:
        """The row of each frame, and the (unrefined, RGB) crops of the regions read in it. The changed crops
        of all the frames are read together, one batch per region."""
        changes = [{name: frame.rgb(crop) for name, crop in self._changes(frame).items()} for frame in frames]
        readings: list[dict[str, Reading]] = [{} for _ in frames]
        for name, region in self.profile.regions.items():
            where = [position for position, changed in enumerate(changes) if name in changed]
            if not where:
                continue
            crops = [changes[position][name] for position in where]
            whole_crop = replace(region, box=(0, 0, crops[0].shape[1], crops[0].shape[0]), units="pixels")
            for position, reading in zip(where, self._reader_for(region).read_batch(crops, whole_crop)):
                readings[position][name] = reading
            self.reads += len(where)
        for frame, changed, read in zip(frames, changes, readings):
            self._readings.update(read)
            regions = {name: tracker.update(self._readings[name], frame.time, fresh=name in changed)
                       for name, tracker in self.trackers.items()}
            yield WatchRow(frame.time, frame.index, regions), changed

    def step(self, frame: Frame) -> tuple[WatchRow, dict[str, np.ndarray]]:
        """`steps` of one frame."""
        return next(self.steps([frame]))

    def run(self, source: FrameSource, batch: int = 32, **pacing: Any
            ) -> Iterator[tuple[WatchRow, dict[str, np.ndarray]]]:
        """`steps` over the frames of `source` (pacing: interval, count, duration, on_unavailable, stop): a live
        source frame by frame; a recorded one `batch` frames at a time, each region's changed crops read in one batch
        (decoding ahead on another thread was tried: on two busy cores it cost more than it overlapped)."""
        if self.tolerance is None:
            self.tolerance = 0 if source.live else RECORDED_TOLERANCE
        frames = paced_frames(source, **pacing)
        if source.live:
            for frame in frames:
                yield self.step(frame)
            return
        chunk: list[Frame] = []
        for frame in frames:
            chunk.append(frame)
            if len(chunk) == batch:
                yield from self.steps(chunk)
                chunk = []
        yield from self.steps(chunk)


# --- sinks --------------------------------------------------------------------------------------------------


def open_output(target: str, overwrite: bool = False) -> IO[str]:
    """The text stream for a JSONL/CSV target (see `check_output`)."""
    check_output(target, overwrite)
    return sys.stdout if target == "-" else open(target, "w", encoding="utf-8", newline="")


class JsonlSink:
    """One JSON object per frame and line, flushed at once."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, row: WatchRow) -> None:
        self.stream.write(json.dumps(row.to_dict()) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


class CsvSink(JsonlSink):
    """time, frame, then value/text/confidence/status per region; one flushed line per frame."""

    def __init__(self, stream: IO[str], regions: list[str]) -> None:
        super().__init__(stream)
        self.regions = regions
        self._writer = csv.writer(stream)
        self._writer.writerow(["time", "frame"] + [f"{name}{suffix}" for name in regions
                                                   for suffix in ("", "_text", "_confidence", "_status")])
        stream.flush()

    def write(self, row: WatchRow) -> None:
        cells: list[Any] = [f"{row.time:.3f}", row.index]
        for name in self.regions:
            value = row.regions[name]
            cells += ["" if value.value is None else value.value, value.text, f"{value.confidence:.4f}", value.status]
        self._writer.writerow(cells)
        self.stream.flush()


@dataclass
class DoubtfulSaver:
    """Crops of doubtful readings, named `<region>-<stamp>.png`: unlabelled on purpose, so `digitocr label`
    lists them as waiting (pre-filled by its model) and `fit` never trains on a guess; refined as the reader
    saw them."""

    folder: Path
    profile: Profile
    clock: str
    saved: int = 0

    def save(self, row: WatchRow, crops: dict[str, np.ndarray]) -> None:
        for name, crop in crops.items():
            value = row.regions[name]
            if value.status == "ok":
                continue
            refine = self.profile.regions[name].refine
            pixels = refine.apply(crop) if refine is not None else crop
            stamp = frame_stamp(row.time, self.clock)
            save_image(pixels, unused_path(self.folder, f"{name}-{stamp}", ".png"))
            self.saved += 1


@dataclass
class Series:
    """Each region's good values over time, for the plot at the end."""

    times: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    stale: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, row: WatchRow) -> None:
        for name, value in row.regions.items():
            if value.value is None:
                continue
            self.times.setdefault(name, []).append(row.time)
            self.values.setdefault(name, []).append(float(value.value))
            if value.status == "stale":
                self.stale.setdefault(name, []).append((row.time, float(value.value)))

    def plot(self, path: Path | str, regions: list[str], clock: str) -> Path:
        """One panel per region, value over time (stale frames marked), written atomically as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(len(regions), 1, figsize=(8, 1.8 + 1.6 * len(regions)), sharex=True,
                                    squeeze=False)
        start = min((times[0] for times in self.times.values()), default=0.0) if clock == "wall" else 0.0
        for axis, name in zip(axes[:, 0], regions):
            times = [t - start for t in self.times.get(name, [])]
            axis.step(times, self.values.get(name, []), where="post", color="#1f6fb4", linewidth=1.2)
            if self.stale.get(name):
                stale_t, stale_v = zip(*self.stale[name])
                axis.plot([t - start for t in stale_t], stale_v, "x", color="#d62728", markersize=4, label="stale")
                axis.legend(loc="upper left", fontsize=8)
            axis.set_ylabel(name)
            axis.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("seconds into the video" if clock == "video" else "seconds since the start")
        figure.tight_layout()
        path = Path(path)
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=100)
        plt.close(figure)
        return path


def table(row: WatchRow, reads_per_second: dict[str, float] | None = None) -> str:
    """The live terminal table: one line per region."""
    lines = [f"{'region':<12} {'value':>10} {'read':>10} {'conf':>5} {'status':<7} {'change/s':>9} {'reads/s':>7}"]
    for name, value in row.regions.items():
        rate = "" if value.rate is None or math.isnan(value.rate) else f"{value.rate:+.2f}"
        shown = "" if value.value is None else f"{value.value:g}" if isinstance(value.value, float) else value.value
        reads = "" if reads_per_second is None else f"{reads_per_second.get(name, 0.0):.1f}"
        lines.append(f"{name[:12]:<12} {shown!s:>10} {value.text[:10]:>10} {value.confidence:5.2f} "
                     f"{value.status:<7} {rate:>9} {reads:>7}" + (f"  {value.reason}" if value.reason else ""))
    return "\n".join(lines)
