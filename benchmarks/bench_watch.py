"""watch's cost: CPU share of a three-region 30 Hz watch of a 1280x720 window (the capture's own share reported
separately), and reading a 720p video with a three-region profile against decoding the video alone.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_watch.py [--model MODEL] [--seconds 20] [--video-seconds 20]

The window is the tests' Tk window (tests/desktop.py) on Xvfb with openbox, sized 1280x720, its speed field
changing ten times a second, its score once a second and its gear every three seconds, as a driving game's HUD
does. CPU is the watching thread's own time (time.thread_time), so the Tk window and its driver do not count;
the X server's work for the grabs is reported on its own line. The model is the shipped general model (ONNX,
one thread) unless --model names another; it reads these fields' digits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from desktop import FIELD_SIZE, FIELDS, NumberWindow, field_image, profile_toml, virtual_desktop

from digitocr.frames import VideoSource, WindowSource, paced_frames
from digitocr.profile import profile_from_mapping
from digitocr.reader import Reader
from digitocr.watch import Watcher

HD = (1280, 720)


def profile():
    import tomllib

    return profile_from_mapping(tomllib.loads(profile_toml("bench", HD)))


def child_pid(command: str) -> int:
    """The pid of this process's child running `command` (the X server virtual_desktop started)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        if name == command and int(rest.split()[1]) == os.getpid():
            return int(stat.parent.name)
    raise RuntimeError(f"no child process {command}")


def server_cpu(pid: int) -> float:
    """CPU seconds the process has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hud_driver(window: NumberWindow, stop: threading.Event) -> None:
    tick = 0
    while not stop.is_set():
        window.show(speed=str(100 + tick % 150), score=str(5000 + tick // 10), gear=str(1 + tick // 30 % 5))
        tick += 1
        time.sleep(0.1)


def measure(loop, seconds: float) -> tuple[float, int]:
    """(share of one core used by this thread, frames) while `loop(seconds)` runs."""
    cpu, wall = time.thread_time(), time.perf_counter()
    frames = loop(seconds)
    return (time.thread_time() - cpu) / (time.perf_counter() - wall), frames


def live(model: Path | None, seconds: float, backend: str) -> None:
    with virtual_desktop(screen="1600x900") as display:
        os.environ["DISPLAY"] = display
        xvfb = child_pid("Xvfb")
        with NumberWindow(display, "Bench game", (40, 40), HD) as window, WindowSource("Bench game") as source:
            while source.where().box is None:
                time.sleep(0.05)
            stop = threading.Event()
            driver = threading.Thread(target=hud_driver, args=(window, stop))
            driver.start()
            try:
                def grab_only(duration: float) -> int:
                    return sum(1 for _ in paced_frames(source, interval=1 / 30, duration=duration))

                watcher = Watcher(Reader(model, backend=backend, threads=1), profile())

                def watch(duration: float) -> int:
                    return sum(1 for _ in watcher.run(source, interval=1 / 30, duration=duration))

                watch(1.0)  # warm-up: first reads, ONNX Runtime's first run
                server_before = server_cpu(xvfb)
                capture_share, captured = measure(grab_only, seconds)
                server_share = (server_cpu(xvfb) - server_before) / seconds
                reads_before = watcher.reads
                watch_share, watched = measure(watch, seconds)
                reads = watcher.reads - reads_before
            finally:
                stop.set()
                driver.join()
    print(f"live, 1280x720 window, 3 regions, 30 Hz, {seconds:.0f} s each, backend {watcher.reader.backend}:")
    print(f"  capture alone (grab):             {capture_share:.1%} of one core ({captured / seconds:.1f} frames/s)")
    print(f"  X server work for those grabs:    {server_share:.1%} of one core (Xvfb, not this process)")
    print(f"  watch (capture + checks + reads): {watch_share:.1%} of one core ({watched / seconds:.1f} frames/s, "
          f"{reads} region reads = {reads / max(1, 3 * watched):.0%} of regions re-read)")
    print(f"  reading part (watch - capture):   {watch_share - capture_share:.1%} of one core")


def write_video(path: Path, seconds: float, fps: int = 30) -> int:
    """A 720p mp4 (mp4v) with a scrolling textured background (work for the codec, like gameplay) and the three
    fields: speed changing every 3 frames, score every 30, gear never."""
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 255, (90, 400, 3), dtype=np.uint8), (HD[0] * 2, HD[1]),
                         interpolation=cv2.INTER_LINEAR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, HD)
    count = int(seconds * fps)
    for index in range(count):
        frame = np.ascontiguousarray(texture[:, index * 4 % HD[0]:index * 4 % HD[0] + HD[0]])
        for name, text in (("speed", str(100 + index // 3)), ("score", str(5000 + index // 30)), ("gear", "3")):
            x, y = FIELDS[name]
            frame[y:y + FIELD_SIZE[1], x:x + FIELD_SIZE[0]] = np.asarray(field_image(text))[:, :, ::-1]
        writer.write(frame)
    writer.release()
    return count


def video(model: Path | None, seconds: float, backend: str, repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "game.mp4"
        count = write_video(path, seconds)

        def timed(work) -> tuple[float, float]:
            """(wall seconds, CPU seconds of the whole process, every thread) of `work()`."""
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            return time.perf_counter() - wall, time.process_time() - cpu

        def decode_only() -> None:
            capture = cv2.VideoCapture(str(path))
            while capture.read()[0]:
                pass
            capture.release()

        reader = Reader(model, backend=backend, threads=1)  # loaded once: the timing is of reading, not start-up

        def watch() -> None:
            watcher = Watcher(reader, profile())
            with VideoSource(path) as source:
                assert sum(1 for _ in watcher.run(source)) == count

        watch()  # warm-up
        runs = [(timed(decode_only), timed(watch)) for _ in range(repeats)]  # interleaved: load drifts hit both
        decode_wall, watch_wall = (min(run[k][0] for run in runs) for k in (0, 1))
        decode_cpu, watch_cpu = (min(run[k][1] for run in runs) for k in (0, 1))
    print(f"video, 1280x720 mp4v, {count} frames, 3 regions, best of {repeats} (decoding alone = a cv2 read loop):")
    print(f"  wall clock: decoding alone {count / decode_wall:.0f} frames/s, watch {count / watch_wall:.0f} frames/s "
          f"= {decode_wall / watch_wall:.0%} of decoding alone")
    print(f"  CPU time:   decoding alone {decode_cpu / count * 1000:.2f} ms/frame, watch "
          f"{watch_cpu / count * 1000:.2f} ms/frame (all threads) = {decode_cpu / watch_cpu:.0%} of decoding's "
          "speed on one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model folder (default: the shipped general model)")
    parser.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    parser.add_argument("--seconds", type=float, default=20.0, help="live: seconds per measurement")
    parser.add_argument("--video-seconds", type=float, default=20.0, help="length of the test video")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    live(args.model, args.seconds, args.backend)
    video(args.model, args.video_seconds, args.backend)


if __name__ == "__main__":
    main()
