"""The server's settings: what to load, where to listen, and the limits. Checked before anything starts;
handed to worker processes as JSON in an environment variable (they are spawned, not forked)."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from digitocr.errors import UserError

ENVIRONMENT_KEY = "DIGITOCR_SERVE_CONFIG"
DEFAULT_PORT = 8765  # the seed's client connects to ws://localhost:8765


@dataclass(frozen=True)
class Limits:
    max_body: int = 10 * 2**20  # bytes of one request body or WebSocket message
    max_inflated: int = 32 * 2**20  # bytes a gzip'd image may inflate to
    max_pixels: int | None = None  # width x height from the header, before decoding; None: images.MAX_PIXELS
    timeout: float = 10.0  # seconds for one HTTP request, or one WebSocket frame's reading
    max_connections: int = 256  # HTTP requests in flight plus open WebSockets, per worker
    stream_window: int = 64  # frames of one WebSocket read ahead of the answers sent back

    def check(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not value > 0:
                raise UserError(f"serve: {name.replace('_', '-')} must be positive, got {value}")


@dataclass(frozen=True)
class ServeConfig:
    model: str | None = None
    profiles: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    token: str | None = None
    insecure: bool = False
    backend: str = "auto"
    threads: int | None = 1  # inference threads per worker: the event loop needs the other core
    max_batch: int = 64
    batch_wait: float = 0.0  # seconds to wait for company before reading a small batch
    access_log: bool = False
    limits: Limits = field(default_factory=Limits)

    def check(self) -> None:
        """UserError for settings that cannot work or would expose the server."""
        if not is_loopback(self.host) and self.token is None and not self.insecure:
            raise UserError(f"serve: binding to {self.host} lets other machines read with this server; give "
                            "--token TOKEN (clients send 'Authorization: Bearer TOKEN') or --insecure")
        if self.token is not None and len(self.token) < 8:
            raise UserError("serve: a token needs at least 8 characters")
        if not 0 <= self.port <= 65535:
            raise UserError(f"serve: port {self.port} is not between 0 and 65535")
        if self.workers < 1 or self.max_batch < 1:
            raise UserError("serve: --workers and --max-batch must be at least 1")
        if not 0 <= self.batch_wait <= 1:
            raise UserError(f"serve: --batch-wait-ms is between 0 and 1000, got {self.batch_wait * 1000:g}")
        self.limits.check()

    def to_environment(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServeConfig:
        values: dict[str, Any] = json.loads(os.environ[ENVIRONMENT_KEY])
        return cls(**{**values, "profiles": tuple(values["profiles"]), "limits": Limits(**values["limits"])})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
