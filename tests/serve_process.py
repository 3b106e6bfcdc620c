"""`digitocr serve` as a real process on a free loopback port, for the serve tests and nothing else."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from typing import Self

import httpx

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """Started with `--port 0`; the port is read from the line the command prints."""

    def __init__(self, *arguments: str, timeout: float = 60.0) -> None:
        self.started = time.perf_counter()
        command = [sys.executable, "-m", "digitocr", "serve", *arguments, "--port", "0"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = self._wait_for_url(timeout)
        self.ws_url = self.url.replace("http", "ws", 1)
        self._wait_for_health(timeout)
        self.startup_seconds = time.perf_counter() - self.started

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if match := LISTENING.search(line):
                return match.group(1)
        self.stop()
        raise AssertionError(f"the server did not start: {''.join(self.output)}")

    def _wait_for_health(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.02)
        self.stop()
        raise AssertionError(f"the server never answered /health: {''.join(self.output)}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
