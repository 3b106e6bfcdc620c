"""A real desktop for tests: Xvfb with the openbox window manager, and a Tk window showing numbers.

The window is this file run as a script by the venv's Python: it shows three number fields drawn by
`field_image` (the picture the watch tests' model is trained on) and obeys lines on its standard input
("show 12 345 6", "move X Y", "iconify", "deiconify", "quit"), answering each with one line once Tk has drawn it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FIELD_SIZE = (120, 32)                   # every number field, in pixels
FIELDS = {"speed": (20, 20), "gear": (20, 70), "score": (180, 20)}  # top-left of each field in the window
WINDOW_SIZE = (320, 120)


def field_image(text: str) -> Image.Image:
    """A number field: dark digits of Pillow's built-in font on white, left-aligned in FIELD_SIZE."""
    font = ImageFont.load_default(size=24)
    left, top, _right, bottom = font.getbbox(text)
    image = Image.new("RGB", FIELD_SIZE, (255, 255, 255))
    ImageDraw.Draw(image).text((6 - left, (FIELD_SIZE[1] - (bottom - top)) // 2 - top), text, fill=(0, 0, 0),
                               font=font)
    return image


def profile_toml(name: str = "window", size: tuple[int, int] = WINDOW_SIZE) -> str:
    """A profile whose three pixel boxes are the window's fields (on a window of `size`)."""
    lines = [f'name = "{name}"', f"size = [{size[0]}, {size[1]}]"]
    for field, (x, y) in FIELDS.items():
        lines += [f"[regions.{field}]", f"box = [{x}, {y}, {x + FIELD_SIZE[0]}, {y + FIELD_SIZE[1]}]",
                  'format = "int"', "min_confidence = 0.3"]
    return "\n".join(lines) + "\n"


def _wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def virtual_desktop(window_manager: bool = True, screen: str = "1024x768") -> Iterator[str]:
    """Start Xvfb (and openbox) on a free display; yields the DISPLAY value; kills both afterwards."""
    for program in ("Xvfb", "openbox") if window_manager else ("Xvfb",):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} is missing: `make setup-system` installs it")
    reader, writer = os.pipe()  # Xvfb picks a free display itself and writes its number here (-displayfd)
    processes = [subprocess.Popen(["Xvfb", "-displayfd", str(writer), "-screen", "0", f"{screen}x24", "-nolisten",
                                   "tcp"], pass_fds=(writer,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    os.close(writer)
    try:
        with os.fdopen(reader) as numbers:
            number = numbers.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        display = f":{number}"
        if window_manager:
            processes.append(subprocess.Popen(["openbox", "--sm-disable"], env={**os.environ, "DISPLAY": display},
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            _wait_for(lambda: _has_window_manager(display), "openbox")
        yield display
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _has_window_manager(display: str) -> bool:
    from Xlib import X
    from Xlib.display import Display

    connection = Display(display)
    try:
        root = connection.screen().root
        return root.get_full_property(connection.intern_atom("_NET_SUPPORTING_WM_CHECK"), X.AnyPropertyType) \
            is not None
    finally:
        connection.close()


class NumberWindow:
    """The Tk window, run by the venv's Python on `display`, titled `title`."""

    def __init__(self, display: str, title: str, position: tuple[int, int] = (100, 80),
                 size: tuple[int, int] = WINDOW_SIZE) -> None:
        self.title = title
        self.process = subprocess.Popen(
            [sys.executable, __file__, title, f"{size[0]}x{size[1]}+{position[0]}+{position[1]}"],
            env={**os.environ, "DISPLAY": display}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._answer() == "ready"

    def _answer(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"the Tk window exited ({self.process.wait()})")
        return line

    def command(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._answer()

    def show(self, **values: str) -> None:
        self.command("show " + " ".join(values.get(field, "") or "-" for field in FIELDS))

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError, RuntimeError):
                self.command("quit")
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _run_window(title: str, geometry: str) -> None:
    import queue
    import threading
    import tkinter

    root = tkinter.Tk()
    root.title(title)
    root.geometry(geometry)
    root.resizable(False, False)
    width, height = (int(number) for number in geometry.split("+")[0].split("x"))
    canvas = tkinter.Canvas(root, width=width, height=height, highlightthickness=0, bd=0,
                            background="#d0d8e0")
    canvas.pack()
    photos = {field: tkinter.PhotoImage(master=root) for field in FIELDS}
    for field, (x, y) in FIELDS.items():
        canvas.create_image(x, y, image=photos[field], anchor="nw")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in sys.stdin], daemon=True).start()

    def reply(text: str) -> None:
        root.update_idletasks()
        root.update()
        print(text, flush=True)

    showing: dict[str, str] = {}

    def show(values: list[str]) -> None:
        for field, value in zip(FIELDS, values):
            if showing.get(field) == value:  # redrawing an unchanged field would flicker, as no HUD does
                continue
            showing[field] = value
            buffer = io.BytesIO()
            field_image("" if value == "-" else value).save(buffer, format="PNG")
            photos[field].configure(data=base64.b64encode(buffer.getvalue()).decode("ascii"), format="png")

    def poll() -> None:
        while not lines.empty():
            command, *arguments = lines.get().split()
            if command == "show":
                show(arguments)
            elif command == "move":
                root.geometry(f"+{arguments[0]}+{arguments[1]}")
            elif command == "iconify":
                root.iconify()
            elif command == "deiconify":
                root.deiconify()
            elif command == "quit":
                root.destroy()
                print("bye", flush=True)
                return
            reply("done")
        root.after(10, poll)

    show(["0", "0", "0"])
    root.after(10, lambda: (reply("ready"), poll()))
    root.mainloop()


if __name__ == "__main__":
    _run_window(sys.argv[1], sys.argv[2])


def wait_until(condition, timeout: float = 5.0):
    """The window manager acts asynchronously: poll until `condition()` returns something true."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def write_video(path: Path, texts: list[str], fps: float = 10.0, size=(320, 120)) -> Path:
    """A video whose frame i shows texts[i] in the 'speed' field (MJPG keeps it near exact)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for text in texts:
        frame = np.full((size[1], size[0], 3), 208, np.uint8)
        x, y = FIELDS["speed"]
        frame[y:y + FIELD_SIZE[1], x:x + FIELD_SIZE[0]] = np.asarray(field_image(text))[:, :, ::-1]
        writer.write(frame)
    writer.release()
    return path
