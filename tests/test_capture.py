"""`capture` of a real Tk window under Xvfb (by title, regions, dedupe, Ctrl-C) and of a written video."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from desktop import NumberWindow, field_image, profile_toml, wait_until, write_video

from digitocr.capture import capture, frame_stamp
from digitocr.cli import main
from digitocr.frames import WindowSource, open_source
from digitocr.images import open_image
from digitocr.profile import load_profile

STAMP = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}"


def test_window_regions_saved_with_timestamps_and_deduped(display, tmp_path):
    (tmp_path / "window.toml").write_text(profile_toml())
    profile = load_profile(tmp_path / "window.toml")
    with NumberWindow(display, "Capture test") as window, WindowSource("capture test") as source:
        wait_until(lambda: source.where().box)
        window.show(speed="88", gear="2", score="4321")
        wait_until(lambda: np.array_equal(source.grab().pixels[20:52, 20:140], np.asarray(field_image("88"))))
        summary = capture(source, tmp_path / "out", interval=0.05, count=4, profile=profile, dedupe=True)
    assert summary.frames == 4 and summary.duplicates == 9 and len(summary.saved) == 3  # unchanged: one of each
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert [re.sub(STAMP, "STAMP", name) for name in names] == ["gear_STAMP.png", "score_STAMP.png",
                                                               "speed_STAMP.png"]
    for name, text in (("gear", "2"), ("score", "4321"), ("speed", "88")):
        saved = open_image(next((tmp_path / "out").glob(f"{name}_*.png")))
        assert np.array_equal(saved, np.asarray(field_image(text)))


def test_video_frames_named_by_the_video_clock_and_never_overwritten(tmp_path):
    video = write_video(tmp_path / "clip.avi", [str(n) for n in range(30)], fps=10.0)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "frame_00-00-01.000.png").write_bytes(b"someone else's file")
    with open_source(str(video), every=10) as source:
        summary = capture(source, tmp_path / "out", interval=None)
    assert [path.name for path in summary.saved] == ["frame_00-00-00.000.png", "frame_00-00-01.000_1.png",
                                                     "frame_00-00-02.000.png"]
    assert (tmp_path / "out" / "frame_00-00-01.000.png").read_bytes() == b"someone else's file"
    assert open_image(summary.saved[0]).shape == (120, 320, 3)
    assert frame_stamp(3725.5, "video") == "01-02-05.500"
    assert main(["capture", str(video), "--duration", "0.95", "-o", str(tmp_path / "cli")]) == 0
    assert len(list((tmp_path / "cli").iterdir())) == 10


def test_bad_input_is_one_line(tmp_path, capsys, display):
    video = write_video(tmp_path / "clip.avi", ["1", "2"], fps=10.0)
    (tmp_path / "far.toml").write_text('[regions.speed]\nbox = [300, 100, 400, 140]\n')
    cases = [
        (["capture", "window:no such window", "-o", str(tmp_path / "o")], "no window title contains 'no such window'"),
        (["capture", str(video), "--interval", "2", "-o", str(tmp_path / "o")], "sample a video or folder with"),
        (["capture", str(video), "--profile", str(tmp_path / "far.toml"), "-o", str(tmp_path / "o")],
         r"region 'speed': box \[300, 100, 400, 140\] is not inside the 320x120 frame"),
        (["capture", str(tmp_path / "absent.mp4"), "-o", str(tmp_path / "o")], "absent.mp4: no such file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert re.search(message, error) and error.count("\n") == 1, error
    assert not (tmp_path / "o").exists()  # nothing written before the inputs were known to be good
    with pytest.raises(SystemExit):
        main(["capture", "screen", "--count", "0", "-o", str(tmp_path / "o")])
    assert "argument --count: must be at least 1, got 0" in capsys.readouterr().err


def test_ctrl_c_ends_a_capture_with_complete_files(display, tmp_path):
    with NumberWindow(display, "Interrupt test") as window:
        window.show(speed="5")
        command = [sys.executable, "-m", "digitocr", "capture", "window:Interrupt test", "--interval", "0.05",
                   "-o", str(tmp_path / "out")]
        process = subprocess.Popen(command, env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        wait_until(lambda: len(list((tmp_path / "out").glob("*.png"))) >= 5 if (tmp_path / "out").exists()
                   else False, timeout=20)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    saved = list((tmp_path / "out").iterdir())
    assert re.fullmatch(rf"{len(saved)} images from {len(saved)} frames of the window 'Interrupt test' in .*\n", out)
    assert all(path.suffix == ".png" and open_image(path).shape == (120, 320, 3) for path in saved)
