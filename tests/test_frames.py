"""Frame sources against a real X server (Xvfb + openbox) and a real Tk window, real videos and folders."""

from __future__ import annotations

import time

import numpy as np
import pytest
from desktop import FIELD_SIZE, FIELDS, NumberWindow, field_image, virtual_desktop, wait_until, write_video

from digitocr.errors import UserError
from digitocr.frames import (
    FolderSource,
    FrameUnavailable,
    ScreenSource,
    VideoSource,
    WindowGone,
    WindowSource,
    open_source,
    stamp_time,
)


def field(pixels: np.ndarray, name: str) -> np.ndarray:
    x, y = FIELDS[name]
    return pixels[y:y + FIELD_SIZE[1], x:x + FIELD_SIZE[0]]


def test_window_by_title_is_captured_pixel_exact_followed_and_reported(display):
    with NumberWindow(display, "Frames test window") as window:
        source = open_source("window:frames TEST")  # a case-insensitive part of the title
        with source:
            assert isinstance(source, WindowSource) and source.title == "Frames test window"
            first = wait_until(lambda: source.where().box)
            window.show(speed="151", gear="3", score="98765")
            frame = source.grab()
            assert frame.pixels.shape == (120, 320, 3) and frame.pixels.dtype == np.uint8
            assert abs(frame.time - time.time()) < 5
            for name, text in (("speed", "151"), ("gear", "3"), ("score", "98765")):
                assert np.array_equal(field(frame.pixels, name), np.asarray(field_image(text)))

            window.command("move 400 300")
            moved = wait_until(lambda: (box := source.where().box) != first and box)
            assert (moved[0] - first[0], moved[1] - first[1]) == (300, 220)
            window.show(speed="42")
            following = source.grab()
            assert np.array_equal(field(following.pixels, "speed"), np.asarray(field_image("42")))
            assert following.index == frame.index + 1

            window.command("iconify")
            wait_until(lambda: source.where().state == "minimised")
            with pytest.raises(FrameUnavailable, match="'Frames test window' is minimised"):
                source.grab()
            window.command("deiconify")
            wait_until(lambda: source.where().box)  # then Tk repaints it:
            wait_until(lambda: np.array_equal(field(source.grab().pixels, "speed"), np.asarray(field_image("42"))))

            window.command("move 900 300")  # partly beyond the 1024-pixel-wide screen
            wait_until(lambda: source.where().box[0] > 800)
            with pytest.raises(FrameUnavailable, match="partly off the screen"):
                source.grab()

            window.close()
            with pytest.raises(WindowGone, match="the window 'Frames test window' was closed"):
                wait_until(lambda: source.grab() and False)


def test_titles_that_match_nothing_or_several_are_listed(display):
    with NumberWindow(display, "Twin game"), NumberWindow(display, "Twin game", (500, 80)):
        with pytest.raises(UserError, match=r"no window title contains 'absent'; the windows are: .*'Twin game'"):
            WindowSource("absent")
        with pytest.raises(UserError, match=r"2 windows match 'twin': 0: 'Twin game'; 1: 'Twin game'; "
                                            r"pick one with --window-index N"):
            WindowSource("twin")
        with pytest.raises(UserError, match="--window-index 2: 2 windows match 'twin' \\(indexes 0 to 1\\)"):
            WindowSource("twin", index=2)
        boxes = set()
        for index in (0, 1):
            with WindowSource("twin", index=index) as source:
                boxes.add(wait_until(lambda: source.where().box)[0])
        assert len(boxes) == 2


def test_screen_monitor_and_box(display):
    with NumberWindow(display, "Screen test") as window, ScreenSource() as screen:
        window.show(speed="777")
        assert screen.grab().pixels.shape == (768, 1024, 3)
        box = wait_until(lambda: WindowSource("Screen test").where().box)
        x, y = FIELDS["speed"]
        with open_source(f"box:{box[0] + x},{box[1] + y},{box[0] + x + FIELD_SIZE[0]},{box[1] + y + FIELD_SIZE[1]}") \
                as part:
            assert np.array_equal(part.grab().pixels, np.asarray(field_image("777")))
        with open_source("monitor:1") as monitor:
            assert monitor.grab().pixels.shape == (768, 1024, 3)
    with pytest.raises(UserError, match="no monitor 3: this screen has 1"):
        open_source("monitor:3")
    with pytest.raises(UserError, match=r"not inside the screen 0,0,1024,768 \(1024x768\)"):
        open_source("box:1000,700,1100,800")
    with pytest.raises(UserError, match="X1 must exceed X0"):
        open_source("box:10,10,5,20")
    with pytest.raises(UserError, match="sample a video or a folder"):
        open_source("screen", every=2)


def test_no_display_is_one_line_naming_what_to_do(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserError, match="no X display: DISPLAY is not set .*Xvfb"):
        open_source("screen")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(UserError, match="Wayland session without X.*XWayland"):
        open_source("window:game")


def test_video_frames_carry_the_video_clock_and_sample(tmp_path):
    texts = [str(100 + i) for i in range(25)]
    path = write_video(tmp_path / "clip.avi", texts, fps=10.0)
    with open_source(str(path)) as video:
        assert isinstance(video, VideoSource) and video.length == 25
        frames = list(video)
    assert [frame.index for frame in frames] == list(range(25))
    assert [round(frame.time, 3) for frame in frames] == [round(i / 10, 3) for i in range(25)]
    for frame, text in zip(frames, texts):
        difference = np.abs(field(frame.pixels, "speed").astype(int) - np.asarray(field_image(text)).astype(int))
        assert difference.mean() < 4  # JPEG-compressed, but the same picture
    with VideoSource(path, every=10) as sampled:
        assert sampled.length == 3 and [frame.index for frame in sampled] == [0, 10, 20]
    with VideoSource(path, fps=4) as sampled:
        assert [round(frame.time, 2) for frame in sampled] == [0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0, 2.3]


def test_bad_videos_and_folders_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match=r"cannot open the video .*missing.mp4: no such file"):
        open_source(str(tmp_path / "missing.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    with pytest.raises(UserError, match=r"cannot open the video .*junk.mp4: OpenCV cannot decode it"):
        open_source(str(tmp_path / "junk.mp4"))
    with pytest.raises(UserError, match="no such file or folder: nowhere"):
        open_source("nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        open_source(str(tmp_path / "empty"))
    with pytest.raises(UserError, match="not both"):
        VideoSource(tmp_path / "junk.mp4", every=2, fps=3)
    with pytest.raises(UserError, match="--every must be 1 or more"):
        open_source(str(tmp_path / "junk.mp4"), every=0)


def test_folder_of_screenshots_in_name_order_with_their_stamps(tmp_path):
    names = ["frame_2026-11-28T10-15-02.345.png", "frame_2026-11-28T10-15-03.345.png", "other.png"]
    for number, name in enumerate(names):
        field_image(str(number)).convert("L").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "frame_2026-11-28T10-15-02.900.png").write_bytes(b"\x89PNG truncated")  # passed over, named
    with open_source(str(tmp_path)) as folder:
        assert isinstance(folder, FolderSource) and folder.length == 4
        frames = list(folder)
        assert folder.unreadable() == ["frame_2026-11-28T10-15-02.900.png"]
    assert [frame.pixels.shape for frame in frames] == [(32, 120, 3)] * 3
    assert frames[1].time - frames[0].time == pytest.approx(1.0)
    assert frames[0].time == stamp_time(names[0]) and frames[2].time == (tmp_path / "other.png").stat().st_mtime
    assert stamp_time("speed_2026-11-28T10-15-02.png") is not None and stamp_time("151_3.png") is None


def test_window_found_without_a_window_manager(monkeypatch):
    """No EWMH client list: the root's titled children are searched instead, and moves are still followed."""
    with virtual_desktop(window_manager=False) as bare:
        monkeypatch.setenv("DISPLAY", bare)
        with NumberWindow(bare, "Bare window", (30, 40)) as window, WindowSource("bare") as source:
            window.show(speed="606")
            assert wait_until(lambda: source.where().box) == (30, 40, 350, 160)
            assert np.array_equal(field(source.grab().pixels, "speed"), np.asarray(field_image("606")))
            window.command("move 200 100")
            assert wait_until(lambda: (box := source.where().box) != (30, 40, 350, 160) and box)[:2] == (200, 100)
