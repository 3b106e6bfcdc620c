"""`capture`: save frames of a source, and/or each region's crop, under timestamped names.

This replaces the seed's Windows-only collection loop (pywinauto, `screenshot_<time>.png` once a second).
Names are `<what>_<stamp>.png`: `what` is `frame` or the region's name; the stamp is the local time
(`2026-11-28T10-15-02.345`) for live sources and folders, the position in the video (`00-01-02.345`) for videos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from digitocr.frames import FrameSource, paced_frames
from digitocr.images import save_image
from digitocr.profile import Profile, crop_regions


def frame_stamp(seconds: float, clock: str) -> str:
    """The time part of a file name: local wall-clock time, or hours-minutes-seconds into a video."""
    if clock == "video":
        whole = int(seconds)
        return f"{whole // 3600:02d}-{whole // 60 % 60:02d}-{whole % 60:02d}.{int(seconds % 1 * 1000):03d}"
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]


def unused_path(folder: Path, stem: str, extension: str) -> Path:
    """`folder/stem.ext`, or `stem_1.ext`, `stem_2.ext`, … when taken: a file we did not write is never replaced."""
    path = folder / f"{stem}{extension}"
    number = 0
    while path.exists():
        number += 1
        path = folder / f"{stem}_{number}{extension}"
    return path


@dataclass
class CaptureSummary:
    """What a capture did, for the command's last line."""

    frames: int = 0                       # frames grabbed
    saved: list[Path] = field(default_factory=list)
    duplicates: int = 0                   # images skipped by dedupe
    unavailable: int = 0                  # grabs that found the window minimised or off screen


def capture(source: FrameSource, out_dir: Path | str, *, interval: float | None = 1.0, count: int | None = None,
            duration: float | None = None, profile: Profile | None = None, frames: bool | None = None,
            dedupe: bool = False, extension: str = ".png",
            on_saved: Callable[[Path], None] | None = None, on_unavailable: Callable[[str], None] | None = None,
            stop: Callable[[], bool] | None = None) -> CaptureSummary:
    """Grab frames (see `paced_frames` for interval/count/duration/stop) and save each whole frame (`frames`;
    by default only when there is no profile) and each region's crop as the profile refines it. `dedupe` skips
    an image identical to the one saved before it under the same name part."""
    out = Path(out_dir)
    save_frames = profile is None if frames is None else frames
    previous: dict[str, np.ndarray] = {}
    summary = CaptureSummary()

    def unavailable(reason: str) -> None:
        summary.unavailable += 1
        if on_unavailable is not None:
            on_unavailable(reason)

    for frame in paced_frames(source, interval=interval, count=count, duration=duration,
                              on_unavailable=unavailable, stop=stop):
        summary.frames += 1
        images = {"frame": frame.pixels} if save_frames else {}
        if profile is not None:
            images.update(crop_regions(frame.pixels, profile))
        stamp = frame_stamp(frame.time, source.clock)
        for what, pixels in images.items():
            if dedupe and what in previous and np.array_equal(previous[what], pixels):
                summary.duplicates += 1
                continue
            previous[what] = pixels
            path = save_image(pixels, unused_path(out, f"{what}_{stamp}", extension))
            summary.saved.append(path)
            if on_saved is not None:
                on_saved(path)
    return summary
