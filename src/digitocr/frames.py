"""Frame sources behind one interface: the screen, one monitor, a box of it, a window found by its title,
a video file, a folder of screenshots.

`open_source("window:Ultimate Car")` gives a `FrameSource`; `grab()` returns the next `Frame` (RGB pixels and a
time), or None when a recorded source is finished. Live sources give a fresh picture on every call; pacing is the
caller's. A window is looked up again on every grab, so one that moved is followed, and one that is minimised
raises `FrameUnavailable` (a later grab may succeed) instead of being read as black; one that was closed raises
`UserError`.

On X11 windows are found through the window manager's EWMH hints (`_NET_CLIENT_LIST`, `_NET_WM_NAME`,
`_NET_WM_STATE`) with python-xlib, falling back to the top-level windows' `WM_NAME` when no window manager runs;
on Windows and macOS through pywinctl. Pixels come from `mss` everywhere.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np

from digitocr.errors import UserError
from digitocr.images import IMAGE_EXTENSIONS, open_image

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in screen pixels, x1/y1 exclusive
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
SOURCE_HELP = ("screen | monitor:N | box:X0,Y0,X1,Y1 | window:TITLE | a video file | a folder of screenshots")


_TO_RGB = {"bgr": cv2.COLOR_BGR2RGB, "bgra": cv2.COLOR_BGRA2RGB}


@dataclass(frozen=True)
class Frame:
    """One picture from a source. `time` is seconds since the epoch for live sources and folders, and seconds
    from the start for videos (the video's own clock); `index` counts frames from the start of the source.

    `raw` is the picture as the source produced it, in channel order `order` ("rgb"; "bgr" from OpenCV; "bgra"
    from mss); `pixels` is it in RGB, converted on first use, so a frame whose regions did not change is never
    converted whole."""

    raw: np.ndarray
    time: float
    index: int
    order: str = "rgb"

    @functools.cached_property
    def pixels(self) -> np.ndarray:
        """(H, W, 3) RGB uint8."""
        return self.rgb(self.raw)

    def rgb(self, part: np.ndarray) -> np.ndarray:
        """A part of `raw` (a crop) in RGB."""
        return part if self.order == "rgb" else cv2.cvtColor(part, _TO_RGB[self.order])


class FrameUnavailable(Exception):
    """No picture this time (the window is minimised or off the screen); a later grab may give one."""


class FrameSource(ABC):
    """Where frames come from. `live` sources show the present (grab as often as you like); recorded ones
    (video, folder) run out, and know their `length` in frames when they can."""

    live: bool = True
    clock: str = "wall"  # frame times: "wall" (seconds since the epoch) or "video" (seconds into the video)
    length: int | None = None
    description: str = ""

    @abstractmethod
    def grab(self) -> Frame | None:
        """The next frame; None when a recorded source has no more."""

    def close(self) -> None:
        """Release the screen connection or the file."""

    def unreadable(self) -> list[str]:
        """Files passed over because they could not be decoded (a folder of screenshots)."""
        return []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        """Every frame of a recorded source (a live source never ends)."""
        while (frame := self.grab()) is not None:
            yield frame


_MALLOPT = {"mmap_threshold": -3, "trim_threshold": -1}  # glibc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


@functools.cache
def keep_frames_in_the_heap() -> None:
    """Let glibc's malloc keep frame-sized blocks (a 720p picture is 2.7 MB) in the heap between frames.

    Left to itself it may map every such block fresh from the kernel and unmap it when freed, so each frame
    pays for some 700 page faults: `benchmarks/bench_watch.py` read a 720p video at 46-52% of decoding's speed
    in such runs, against 78-83% otherwise. Once per process, only on glibc (elsewhere nothing happens); the
    heap then keeps up to 256 MB of freed memory for the next frames instead of returning it at once."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_MALLOPT["mmap_threshold"], 64 << 20)
    mallopt(_MALLOPT["trim_threshold"], 256 << 20)


def paced_frames(source: FrameSource, *, interval: float | None = None, count: int | None = None,
                 duration: float | None = None, on_unavailable: Callable[[str], None] | None = None,
                 stop: Callable[[], bool] | None = None) -> Iterator[Frame]:
    """The frames of `source`: a live one grabbed every `interval` seconds (after a late grab the missed ticks
    are dropped, not caught up in a burst), a recorded one as fast as it decodes. Ends after `count` frames, after
    `duration` seconds (wall clock when live, the frames' own clock when recorded), when a recorded source runs out,
    or when `stop()` says so. A frame that cannot be had (a minimised window) is reported and waited out."""
    keep_frames_in_the_heap()
    deadline = time.monotonic() + duration if duration is not None and source.live else None
    next_tick = time.monotonic()
    first_time: float | None = None
    given = 0
    while (count is None or given < count) and not (stop is not None and stop()):
        if source.live and interval:
            now = time.monotonic()
            if deadline is not None and max(now, next_tick) >= deadline:
                return
            if next_tick > now:
                time.sleep(next_tick - now)
            next_tick = max(next_tick + interval, time.monotonic())
        elif deadline is not None and time.monotonic() >= deadline:
            return
        try:
            frame = source.grab()
        except FrameUnavailable as why:
            if on_unavailable is not None:
                on_unavailable(str(why))
            if not interval:
                time.sleep(0.1)
            continue
        if frame is None:
            return
        first_time = frame.time if first_time is None else first_time
        if duration is not None and not source.live and frame.time - first_time > duration + 1e-9:
            return
        given += 1
        yield frame


def open_source(spec: str, *, window_index: int | None = None, every: int | None = None,
                fps: float | None = None) -> FrameSource:
    """The source a command line names (see SOURCE_HELP); `every`/`fps` sample a video or folder."""
    kind, _, argument = spec.partition(":")
    if (every is not None or fps is not None) and kind in ("screen", "monitor", "box", "window"):
        raise UserError("--every and --fps sample a video or a folder; a live source is paced with --hz/--interval")
    if spec == "screen":
        return ScreenSource()
    if kind == "monitor" and argument:
        try:
            return ScreenSource(monitor=int(argument))
        except ValueError:
            raise UserError(f"a monitor is monitor:N with N a number (1 = the first), got {spec!r}") from None
    if kind == "box" and argument:
        return ScreenSource(box=parse_box(argument))
    if kind == "window" and argument:
        return WindowSource(argument, index=window_index)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, every=every, fps=fps)
    if path.suffix.lower() in VIDEO_EXTENSIONS or path.is_file():
        return VideoSource(path, every=every, fps=fps)
    raise UserError(f"no such file or folder: {spec} (a source is {SOURCE_HELP})")


def parse_box(text: str) -> Box:
    """'x0,y0,x1,y1' -> a non-empty box (UserError otherwise)."""
    try:
        x0, y0, x1, y1 = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"a box is X0,Y0,X1,Y1 in whole pixels, got {text!r}") from None
    if x1 <= x0 or y1 <= y0:
        raise UserError(f"the box {text} is empty: X1 must exceed X0 and Y1 exceed Y0")
    return x0, y0, x1, y1


# --- live sources -------------------------------------------------------------------------------------------


def _check_display() -> None:
    """On Linux, a missing X display is one clear message instead of an Xlib traceback."""
    if not sys.platform.startswith("linux") or os.environ.get("DISPLAY"):
        return
    if os.environ.get("WAYLAND_DISPLAY"):
        raise UserError("this is a Wayland session without X: screen capture needs X11 "
                        "(log in to an X11 session, or run the program under XWayland with DISPLAY set)")
    raise UserError("no X display: DISPLAY is not set (run on a desktop session, or start a virtual one with "
                    "`Xvfb :99 &` and DISPLAY=:99)")


class _Grabber:
    """mss, opened on first use, turning a screen box into an RGB array."""

    def __init__(self) -> None:
        _check_display()
        import mss

        try:
            self._mss = mss.MSS()
        except mss.ScreenShotError as error:
            raise UserError(f"cannot capture the screen: {error} (on macOS, allow screen recording for "
                            "this terminal in System Settings > Privacy & Security)") from None
        self.error_type = mss.ScreenShotError

    @property
    def monitors(self) -> list[dict[str, int]]:
        return list(self._mss.monitors)

    def grab(self, box: Box) -> np.ndarray:
        """The box's pixels, BGRA as the screen holds them."""
        x0, y0, x1, y1 = box
        try:
            shot = self._mss.grab({"left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0})
        except self.error_type as error:
            raise UserError(f"cannot capture the screen box {x0},{y0},{x1},{y1}: {error}") from None
        return np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)

    def close(self) -> None:
        self._mss.close()


class ScreenSource(FrameSource):
    """All monitors together (monitor 0, the default), one monitor (1, 2, …), or a box of the screen."""

    def __init__(self, monitor: int = 0, box: Box | None = None) -> None:
        self._grabber = _Grabber()
        monitors = self._grabber.monitors
        if not 0 <= monitor < len(monitors):
            self._grabber.close()
            raise UserError(f"no monitor {monitor}: this screen has {len(monitors) - 1} "
                            f"(monitor:1 to monitor:{len(monitors) - 1}; `screen` for all of them)")
        area = monitors[monitor]
        screen: Box = (area["left"], area["top"], area["left"] + area["width"], area["top"] + area["height"])
        if box is not None and not (screen[0] <= box[0] and screen[1] <= box[1]
                                    and box[2] <= screen[2] and box[3] <= screen[3]):
            self._grabber.close()
            raise UserError(f"the box {','.join(map(str, box))} is not inside the screen "
                            f"{','.join(map(str, screen))} ({screen[2] - screen[0]}x{screen[3] - screen[1]})")
        self.box = box or screen
        self.description = f"box {','.join(map(str, box))}" if box else (f"monitor {monitor}" if monitor else "screen")
        self._index = 0

    def grab(self) -> Frame:
        pixels = self._grabber.grab(self.box)
        self._index += 1
        return Frame(pixels, time.time(), self._index - 1, "bgra")

    def close(self) -> None:
        self._grabber.close()


@dataclass(frozen=True)
class WindowInfo:
    """What a window finder knows about one window at the moment it is asked."""

    title: str
    box: Box | None       # in screen pixels; None when it cannot be shown
    state: str = "shown"  # "shown" | "minimised" | "hidden"


class WindowGone(UserError):
    """The window that was being captured no longer exists."""


class _X11Windows:
    """Top-level windows of an X server: the window manager's client list (EWMH) when one runs, else the
    root's children that carry a title."""

    def __init__(self) -> None:
        _check_display()
        from Xlib import X, display, error

        self._X, self._error = X, error
        try:
            self._display = display.Display()
        except (error.DisplayError, error.ConnectionClosedError) as failure:
            raise UserError(f"cannot open the X display {os.environ.get('DISPLAY')}: {failure}") from None
        self._root = self._display.screen().root
        atom = self._display.intern_atom
        self._atoms = {name: atom(name) for name in ("_NET_CLIENT_LIST", "_NET_WM_NAME", "UTF8_STRING",
                                                     "_NET_WM_STATE", "_NET_WM_STATE_HIDDEN", "WM_STATE")}

    def list(self) -> list[tuple[Any, str]]:
        """(window handle, title) of every titled top-level window, in stacking-independent order."""
        clients = self._root.get_full_property(self._atoms["_NET_CLIENT_LIST"], self._X.AnyPropertyType)
        if clients is not None:
            candidates = [self._display.create_resource_object("window", ident) for ident in clients.value]
        else:
            candidates = list(self._root.query_tree().children)
        titled = []
        for window in candidates:
            try:
                title = self.title(window)
            except self._error.XError:  # closed while we looked
                continue
            if title:
                titled.append((window, title))
        return titled

    def title(self, window: Any) -> str:
        name = window.get_full_property(self._atoms["_NET_WM_NAME"], self._atoms["UTF8_STRING"])
        if name is not None and name.value:
            value = name.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        legacy = window.get_wm_name()
        return legacy.decode("latin-1") if isinstance(legacy, bytes) else (legacy or "")

    def info(self, window: Any, title: str) -> WindowInfo:
        """Where the window is now and whether it can be seen; WindowGone once it was destroyed."""
        try:
            net_state = window.get_full_property(self._atoms["_NET_WM_STATE"], self._X.AnyPropertyType)
            wm_state = window.get_full_property(self._atoms["WM_STATE"], self._X.AnyPropertyType)
            if (net_state is not None and self._atoms["_NET_WM_STATE_HIDDEN"] in net_state.value) or (
                    wm_state is not None and len(wm_state.value) and wm_state.value[0] == 3):  # IconicState
                return WindowInfo(title, None, "minimised")
            if window.get_attributes().map_state != self._X.IsViewable:
                return WindowInfo(title, None, "hidden")
            geometry = window.get_geometry()
            origin = self._root.translate_coords(window, 0, 0)
        except self._error.XError:
            raise WindowGone(f"the window {title!r} was closed") from None
        return WindowInfo(title, (origin.x, origin.y, origin.x + geometry.width, origin.y + geometry.height))

    def close(self) -> None:
        self._display.close()


class _PyWinCtlWindows:
    """Windows and macOS: pywinctl's window list (the same three questions as `_X11Windows`)."""

    def __init__(self) -> None:
        try:
            import pywinctl
        except ImportError:
            raise UserError("finding windows by title on this system needs pywinctl: pip install pywinctl") from None
        self._pywinctl = pywinctl

    def list(self) -> list[tuple[Any, str]]:
        return [(window, window.title) for window in self._pywinctl.getAllWindows() if window.title]

    def title(self, window: Any) -> str:
        return str(window.title)

    def info(self, window: Any, title: str) -> WindowInfo:
        if not window.isAlive:
            raise WindowGone(f"the window {title!r} was closed")
        if window.isMinimized:
            return WindowInfo(title, None, "minimised")
        return WindowInfo(title, (window.left, window.top, window.left + window.width, window.top + window.height))

    def close(self) -> None:
        """Nothing to release."""


class WindowSource(FrameSource):
    """The window whose title contains `title` (case-insensitive), followed wherever it moves.

    Several matches are an error listing them, unless `index` (0-based, in that list's order) picks one.
    """

    def __init__(self, title: str, index: int | None = None) -> None:
        self._windows = _X11Windows() if sys.platform.startswith("linux") else _PyWinCtlWindows()
        try:
            self._handle, self.title = self._find(title, index)
            self._grabber = _Grabber()
        except BaseException:
            self._windows.close()
            raise
        self.description = f"window {self.title!r}"
        self._index = 0

    def _find(self, wanted: str, index: int | None) -> tuple[Any, str]:
        windows = self._windows.list()
        matches = [(handle, title) for handle, title in windows if wanted.casefold() in title.casefold()]
        if not matches:
            titles = "; ".join(repr(title) for _, title in windows) or "none"
            raise UserError(f"no window title contains {wanted!r}; the windows are: {titles}")
        if index is not None:
            if not 0 <= index < len(matches):
                raise UserError(f"--window-index {index}: {len(matches)} windows match {wanted!r} "
                                f"(indexes 0 to {len(matches) - 1})")
            return matches[index]
        if len(matches) > 1:
            listing = "; ".join(f"{number}: {title!r}" for number, (_, title) in enumerate(matches))
            raise UserError(f"{len(matches)} windows match {wanted!r}: {listing}; pick one with --window-index N")
        return matches[0]

    def where(self) -> WindowInfo:
        """The window's box and state right now."""
        return self._windows.info(self._handle, self.title)

    def grab(self) -> Frame:
        info = self.where()
        if info.box is None:
            raise FrameUnavailable(f"the window {self.title!r} is {info.state}")
        x0, y0, x1, y1 = info.box
        screen = self._grabber.monitors[0]
        left, top = screen["left"], screen["top"]
        if x0 < left or y0 < top or x1 > left + screen["width"] or y1 > top + screen["height"]:
            raise FrameUnavailable(f"the window {self.title!r} is partly off the screen")
        pixels = self._grabber.grab(info.box)
        self._index += 1
        return Frame(pixels, time.time(), self._index - 1, "bgra")

    def close(self) -> None:
        self._grabber.close()
        self._windows.close()


# --- recorded sources ---------------------------------------------------------------------------------------


def _sampler(every: int | None, fps: float | None) -> tuple[int, float | None]:
    if every is not None and fps is not None:
        raise UserError("give --every or --fps, not both")
    if every is not None and every < 1:
        raise UserError(f"--every must be 1 or more, got {every}")
    if fps is not None and not fps > 0:
        raise UserError(f"--fps must be above 0, got {fps}")
    return every or 1, fps


class VideoSource(FrameSource):
    """A video file through OpenCV, each frame stamped with the video's clock; `every` keeps one frame in N,
    `fps` keeps the first frame at or after each 1/fps step. Skipped frames are grabbed but not converted."""

    live = False
    clock = "video"

    def __init__(self, path: Path | str, every: int | None = None, fps: float | None = None) -> None:
        self.path = Path(path)
        self._every, self._fps = _sampler(every, fps)
        if not self.path.is_file():
            raise UserError(f"cannot open the video {self.path}: no such file")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise UserError(f"cannot open the video {self.path}: OpenCV cannot decode it "
                            "(not a video, or a codec this OpenCV build lacks)")
        self.frame_rate = self._capture.get(cv2.CAP_PROP_FPS) or 0.0
        total = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if total > 0:
            if self._fps is not None and self.frame_rate > 0:
                self.length = min(total, int(total / self.frame_rate * self._fps) + 1)
            else:
                self.length = (total + self._every - 1) // self._every
        self.description = f"video {self.path}"
        self._position = -1
        self._next_time = 0.0

    def _clock(self) -> float:
        """Seconds into the video of the frame just grabbed (its timestamp; frame number / rate if it has none)."""
        milliseconds = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if milliseconds > 0 or self._position == 0 or self.frame_rate <= 0:
            return milliseconds / 1000.0
        return self._position / self.frame_rate

    def grab(self) -> Frame | None:
        while self._capture.grab():
            self._position += 1
            seconds = self._clock()
            if self._fps is not None:
                if seconds + 1e-6 < self._next_time:
                    continue
                self._next_time += 1.0 / self._fps * max(1, int((seconds - self._next_time) * self._fps) + 1)
            elif self._position % self._every:
                continue
            ok, bgr = self._capture.retrieve()
            if not ok:
                raise UserError(f"{self.path}: frame {self._position} cannot be decoded")
            return Frame(bgr, seconds, self._position, "bgr")
        return None

    def close(self) -> None:
        self._capture.release()


_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)")


def stamp_time(name: str) -> float | None:
    """Seconds since the epoch from a `capture` file name's local-time stamp, or None when it has none."""
    match = _STAMP.search(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y-%m-%dT%H-%M-%S.%f" if "." in match.group(1)
                                 else "%Y-%m-%dT%H-%M-%S").timestamp()
    except ValueError:
        return None


class FolderSource(FrameSource):
    """The screenshots in a folder, in name order; each frame's time is the stamp in its name (as `capture`
    writes them), else the file's modification time. `every`/`fps` sample them like a video."""

    live = False

    def __init__(self, folder: Path | str, every: int | None = None, fps: float | None = None) -> None:
        self.folder = Path(folder)
        self._every, self._fps = _sampler(every, fps)
        self._paths = sorted(path for path in self.folder.iterdir()
                             if path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith("."))
        if not self._paths:
            raise UserError(f"{self.folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.length = len(self._paths) if fps else (len(self._paths) + self._every - 1) // self._every
        self.description = f"folder {self.folder}"
        self._position = -1
        self._next_time: float | None = None
        self._unreadable: list[str] = []

    def unreadable(self) -> list[str]:
        return list(self._unreadable)

    def grab(self) -> Frame | None:
        while self._position + 1 < len(self._paths):
            self._position += 1
            path = self._paths[self._position]
            seconds = stamp_time(path.name)
            if seconds is None:
                seconds = path.stat().st_mtime
            if self._fps is not None:
                if self._next_time is not None and seconds + 1e-6 < self._next_time:
                    continue
                self._next_time = seconds + 1.0 / self._fps
            elif self._position % self._every:
                continue
            try:
                pixels = open_image(path)
            except UserError:  # one broken screenshot does not end the folder; it is named at the end
                self._unreadable.append(path.name)
                continue
            return Frame(_rgb(pixels), seconds, self._position)
        return None


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else pixels
