"""Starting the server: load (and so check) everything, bind the socket, then serve with uvicorn, in this
process or in `workers` spawned ones that share the socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from digitocr.serve.app import create_app
from digitocr.serve.config import ENVIRONMENT_KEY, ServeConfig
from digitocr.serve.engine import Engine


def serve(config: ServeConfig, on_listening: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted. `on_listening(url)` is called once the socket is bound (with the real port
    when `config.port` is 0), before the first request is accepted."""
    config.check()
    engine = Engine(config)  # a bad model or profile fails here, before anything listens
    if config.workers == 1:
        uvicorn_config = _uvicorn_config(create_app(engine), config)
    else:
        del engine  # each worker loads its own
        os.environ[ENVIRONMENT_KEY] = config.to_environment()
        uvicorn_config = _uvicorn_config("digitocr.serve.app:app_from_environment", config, factory=True,
                                         workers=config.workers)
    sock = uvicorn_config.bind_socket()
    if on_listening is not None:
        on_listening(listening_url(sock))
    if config.workers == 1:
        uvicorn.Server(uvicorn_config).run(sockets=[sock])
    else:
        Multiprocess(uvicorn_config, sockets=[sock]).run()


def listening_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _uvicorn_config(app: Any, config: ServeConfig, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(app, host=config.host, port=config.port, ws_max_size=config.limits.max_body,
                          ws_per_message_deflate=False, log_level="info" if config.access_log else "warning",
                          access_log=config.access_log, server_header=False, proxy_headers=False,
                          timeout_graceful_shutdown=3, **extra)
