"""`watch`: plausibility over time, then the real thing — the shipped model watching the Tk window under Xvfb (values checked against what it showed, moved, closed, Ctrl-C), and a written video."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from desktop import FIELD_SIZE, FIELDS, NumberWindow, field_image, profile_toml, wait_until

from digitocr.cli import main
from digitocr.frames import VideoSource, WindowGone, WindowSource
from digitocr.images import open_image
from digitocr.profile import Region, load_profile
from digitocr.reader import Reader, Reading
from digitocr.watch import RegionTracker


def reading(text: str, confidence: float = 0.99, status: str = "ok", reason: str = "") -> Reading:
    value = int(text) if text.isdigit() else float(text) if text.replace(".", "", 1).isdigit() else None
    return Reading(text, confidence, value, status=status, reason=reason)


def test_rate_monotonic_confidence_and_reader_flags_keep_the_last_good_value():
    region = Region("speed", (0, 0, 1, 1), max_rate=10, monotonic="increasing", min_confidence=0.5)
    tracker = RegionTracker(region)
    first = tracker.update(reading("4", 0.2), 0.0)
    assert (first.status, first.value, first.reason) == ("unread", None, "confidence 0.20 below 0.5")
    assert tracker.update(reading("100"), 0.0).value == 100
    assert tracker.update(reading("101"), 0.1).status == "ok"  # one display step is always allowed
    jump = tracker.update(reading("190"), 0.2)
    assert (jump.status, jump.value, jump.text) == ("stale", 101, "190")
    assert jump.reason == "changed by +89 in 0.10 s (max_rate 10/s)"
    down = tracker.update(reading("99"), 0.3)
    assert (down.status, down.value, down.reason) == ("stale", 101, "went down from 101 (monotonic increasing)")
    flagged = tracker.update(reading("103", status="out_of_range", reason="103 is above 102"), 0.4)
    assert (flagged.status, flagged.reason) == ("stale", "103 is above 102")
    assert tracker.update(reading("1x3"), 0.45).reason == "'1x3' is not a number"
    later = tracker.update(reading("111"), 1.1)  # 10 more in a second: allowed
    assert (later.status, later.value, later.rate) == ("ok", 111, pytest.approx(10.0))
    decimals = RegionTracker(Region("fuel", (0, 0, 1, 1), max_rate=1))
    decimals.update(reading("5.25"), 0.0)
    assert decimals.update(reading("5.26"), 0.001).status == "ok"
    assert decimals.update(reading("5.45"), 0.002).status == "stale"


def test_a_consistent_new_value_is_accepted_after_persist_seconds():
    """A counter reset breaks `monotonic`; once read consistently for `persist` seconds it is the value."""
    tracker = RegionTracker(Region("laps", (0, 0, 1, 1), max_rate=5, monotonic="increasing"), persist=1.0)
    tracker.update(reading("40"), 0.0)
    states = [tracker.update(reading(str(n)), 0.1 + 0.25 * i) for i, n in enumerate([0, 0, 1, 1, 2, 2])]
    assert [s.status for s in states] == ["stale", "stale", "stale", "stale", "ok", "ok"]
    assert states[3].value == 40 and states[4].value == 2
    flicker = RegionTracker(Region("laps", (0, 0, 1, 1), monotonic="increasing"), persist=1.0)
    flicker.update(reading("40"), 0.0)
    assert all(flicker.update(reading(text), t).value == 40  # misreads that do not agree never take over
               for text, t in [("4", 0.5), ("2", 0.9), ("3", 1.4), ("1", 1.8), ("2", 2.2)])


# --- the real thing -----------------------------------------------------------------------------------------


@pytest.fixture()
def profile_path(tmp_path) -> Path:
    """The window's three fields, read by the shipped general model (it reads Pillow's default font)."""
    path = tmp_path / "window.toml"
    path.write_text(profile_toml())
    return path


def shown(source: WindowSource, **values: str) -> bool:
    """Whether the window's pixels show `values` yet (Tk draws asynchronously)."""
    pixels = source.grab().pixels
    return all(np.array_equal(pixels[y:y + FIELD_SIZE[1], x:x + FIELD_SIZE[0]], np.asarray(field_image(text)))
               for name, text in values.items() for x, y in [FIELDS[name]])


def test_watcher_reads_the_window_rereads_only_changes_and_follows_it(display, profile_path):
    from digitocr.watch import Watcher

    profile = load_profile(profile_path)
    watcher = Watcher(Reader(threads=1), profile)
    with NumberWindow(display, "Watch test game") as window, WindowSource("watch test") as source:
        wait_until(lambda: source.where().box)
        rng = np.random.default_rng(5)
        for round_number in range(4):
            values = {name: str(int(rng.integers(0, 10 ** (2 + index))))
                      for index, name in enumerate(["gear", "speed", "score"])}
            window.show(**values)
            wait_until(lambda: shown(source, **values))  # noqa: B023
            before = watcher.reads
            row, _ = watcher.step(source.grab())
            assert {name: str(value.value) for name, value in row.regions.items()} == values
            assert all(value.status == "ok" for value in row.regions.values())
            again, _ = watcher.step(source.grab())
            assert watcher.reads - before <= 3 and not any(value.fresh for value in again.regions.values())
            if round_number == 1:
                window.command("move 500 400")
                wait_until(lambda: source.where().box[0] >= 500)
        window.show(speed="77", gear=values["gear"], score=values["score"])
        wait_until(lambda: shown(source, speed="77"))
        before = watcher.reads
        row, crops = watcher.step(source.grab())
        assert watcher.reads == before + 1 and list(crops) == ["speed"] and row.regions["speed"].value == 77
        window.close()
        with pytest.raises(WindowGone, match="'Watch test game' was closed"):
            wait_until(lambda: watcher.step(source.grab()) and False)


def drive(window: NumberWindow, stop: threading.Event, shown_values: list[str]) -> None:
    """Count the speed field up, ten changes a second, until `stop`."""
    speed = 100
    while not stop.is_set():
        speed += 1
        window.show(speed=str(speed), gear="4", score="2500")
        shown_values.append(str(speed))
        time.sleep(0.1)


@pytest.mark.slow
def test_watch_command_streams_jsonl_csv_plot_and_doubtful_crops(display, profile_path, tmp_path):
    out = tmp_path / "out"
    with NumberWindow(display, "Stream test game") as window:
        stop, shown_values = threading.Event(), []
        driver = threading.Thread(target=drive, args=(window, stop, shown_values))
        driver.start()
        try:
            code = main(["watch", "window:Stream test", "--profile", str(profile_path), "--hz", "20", "--count", "40",
                         "--jsonl", str(tmp_path / "values.jsonl"), "--csv", str(tmp_path / "values.csv"),
                         "--plot", str(tmp_path / "plot.png"), "--save-doubtful", str(out), "--quiet",
                         "--min-confidence", "1"])
        finally:
            stop.set()
            driver.join()
    assert code == 0
    rows = [json.loads(line) for line in (tmp_path / "values.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and [row["frame"] for row in rows] == list(range(40))
    assert all(rows[i]["time"] < rows[i + 1]["time"] for i in range(39))
    texts = [row["regions"]["speed"]["text"] for row in rows if row["regions"]["speed"]["fresh"]]
    assert len(texts) >= 10 and sum(text in shown_values for text in texts) >= 0.9 * len(texts)
    assert all(row["regions"]["gear"]["text"] == "4" for row in rows)
    table = list(csv.DictReader((tmp_path / "values.csv").open()))
    assert len(table) == 40 and table[0].keys() >= {"time", "frame", "speed", "speed_confidence", "speed_status"}
    assert open_image(tmp_path / "plot.png").shape[2] == 3
    doubtful = sorted(out.iterdir())  # an impossible threshold: every fresh reading is doubtful
    assert doubtful and all(re.fullmatch(r"(speed|gear|score)-\d{4}-\d\d-\d\dT[\d.-]+\.png", p.name)
                            for p in doubtful)  # unlabelled: the labelling page lists them as waiting


def test_closing_or_ctrl_c_ends_a_watch_with_complete_files(display, profile_path, tmp_path):
    command = [sys.executable, "-m", "digitocr", "watch", "window:Ending test", "--profile", str(profile_path),
               "--hz", "30", "--jsonl", "-", "--csv", str(tmp_path / "a.csv")]
    environment = {**os.environ, "DISPLAY": display}
    with NumberWindow(display, "Ending test") as window:
        window.show(speed="12", gear="1", score="0")
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # values stream through the pipe as they are read
        assert first["regions"]["speed"]["value"] == 12
        window.close()
        out, err = process.communicate(timeout=30)
    assert process.returncode == 2 and err.strip().endswith("error: the window 'Ending test' was closed")
    assert err.count("\n") == 1
    lines = [first] + [json.loads(line) for line in out.splitlines()]
    assert len(list(csv.reader((tmp_path / "a.csv").open()))) == len(lines) + 1

    command[-1] = str(tmp_path / "b.csv")
    with NumberWindow(display, "Ending test") as window:
        window.show(speed="13", gear="1", score="0")
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        process.stdout.readline()
        window.command("iconify")  # reported once, then waited out
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err.count("waiting: the window 'Ending test' is minimised\n") == 1
    assert re.search(r"\d+ frames of the window 'Ending test': \d+ region reads \(\d+% skipped as unchanged\)", err)
    rows = list(csv.reader((tmp_path / "b.csv").open()))
    assert len(rows) == len(out.splitlines()) + 2 and all(len(row) == 14 for row in rows)


def write_counting_video(path: Path, fps: float = 25.0, seconds: float = 4.0) -> list[str]:
    """A 1280x720 MJPG video (quality 100) whose speed field counts up once every 5 frames; returns the texts."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (1280, 720))
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
    texts = []
    for index in range(int(fps * seconds)):
        frame = np.full((720, 1280, 3), 60, np.uint8)
        text = str(200 + index // 5)
        for name, value in (("speed", text), ("gear", "3"), ("score", str(9000 + index // 25))):
            x, y = FIELDS[name]
            frame[y:y + FIELD_SIZE[1], x:x + FIELD_SIZE[0]] = np.asarray(field_image(value))[:, :, ::-1]
        writer.write(frame)
        texts.append(text)
    writer.release()
    return texts


def test_recorded_video_to_csv_on_the_video_clock(profile_path, tmp_path, capsys):
    profile_path.write_text(profile_path.read_text().replace("size = [320, 120]", "size = [1280, 720]"))
    texts = write_counting_video(tmp_path / "game.avi")
    assert main(["watch", str(tmp_path / "game.avi"), "--profile", str(profile_path), "--csv",
                 str(tmp_path / "values.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "values.csv").open()))
    assert len(rows) == len(texts) == 100
    assert [float(row["time"]) for row in rows] == pytest.approx([i / 25 for i in range(100)], abs=1e-3)
    assert sum(row["speed"] == text for row, text in zip(rows, texts)) >= 95
    assert {row["gear"] for row in rows} == {"3"}
    err = capsys.readouterr().err
    assert "100/100" in err and "100 frames of the video" in err  # the progress bar, then the summary

    assert main(["watch", str(tmp_path / "game.avi"), "--profile", str(profile_path), "--every", "10", "--csv",
                 str(tmp_path / "values.csv"), "--overwrite", "--quiet"]) == 0
    sampled = list(csv.DictReader((tmp_path / "values.csv").open()))
    assert [int(row["frame"]) for row in sampled] == list(range(0, 100, 10))
    assert [row["speed"] for row in sampled] == [texts[i] for i in range(0, 100, 10)]
    with VideoSource(tmp_path / "game.avi", fps=5) as source:
        assert [frame.index for frame in source][:4] == [0, 5, 10, 15]


def test_bad_watch_input_is_one_line(tmp_path, capsys):
    (tmp_path / "p.toml").write_text('[regions.speed]\nbox = [0, 0, 10, 10]\n')
    (tmp_path / "taken.csv").write_text("someone's data")
    (tmp_path / "clip.avi").write_bytes(b"junk")
    cases = [
        (["watch", "screen"], "watch needs --profile P"),
        (["watch", "screen", "--profile", str(tmp_path / "p.toml"), "--csv", str(tmp_path / "taken.csv")],
         r"taken.csv exists \(add --overwrite to replace it\)"),
        (["watch", "screen", "--profile", str(tmp_path / "p.toml"), "--jsonl", "-", "--csv", "-"], "only one of"),
        (["watch", "screen", "--profile", str(tmp_path / "p.toml"), "--plot", "x.jpg"], "--plot writes a PNG"),
        (["watch", "screen", "--profile", str(tmp_path / "nope.toml")], "cannot read profile"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert re.search(message, error) and error.count("\n") == 1, error
    assert (tmp_path / "taken.csv").read_text() == "someone's data"


def test_live_table_on_a_terminal(display, profile_path):
    import pty

    with NumberWindow(display, "Table test") as window:
        window.show(speed="321", gear="5", score="77")
        primary, secondary = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "digitocr", "watch", "window:Table test", "--profile",
                                    str(profile_path), "--duration", "1.5"],
                                   env={**os.environ, "DISPLAY": display}, stderr=secondary, stdout=subprocess.DEVNULL)
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
        os.close(primary)
        assert process.wait(10) == 0
    text = output.decode()
    assert "region" in text and "change/s" in text and "\x1b[J" in text
    assert re.search(r"speed +321 +321 +\d\.\d\d ok", text) and re.search(r"gear +5 +5 ", text)
