"""`digitocr serve [--model MODEL] [--profile P.toml]`: the reading server (HTTP and WebSocket)."""

from __future__ import annotations

import argparse
import os
import re
import sys

from digitocr.cli.options import non_negative, port, positive, positive_int

HELP = "serve readings over HTTP and WebSocket (the seed's client works unchanged)"
SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def size(text: str) -> int:
    """'10MB', '512KiB' or a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"a size is a number of bytes or like 10MB, got {text!r}")
    return int(float(match.group(1)) * SIZE_UNITS[(match.group(2) or "").upper()])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from digitocr.serve.config import DEFAULT_PORT, Limits, ServeConfig

    defaults, limits = ServeConfig(), Limits()
    parser.add_argument("--model", help="model folder to read crops with (default: the profile's model, "
                                        "else the shipped general one)")
    parser.add_argument("--profile", action="append", default=[], metavar="P.toml",
                        help="screen profile: POST /read?profile=NAME and WebSocket frames read its regions "
                             "(repeatable; the first one answers the WebSocket by default)")
    parser.add_argument("--host", default=defaults.host, help="address to bind (default loopback, 127.0.0.1)")
    parser.add_argument("--port", type=port, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="processes, each with its own model (default 1)")
    parser.add_argument("--token", default=os.environ.get("DIGITOCR_TOKEN"),
                        help="bearer token clients must send (default: $DIGITOCR_TOKEN)")
    parser.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without a token")
    parser.add_argument("--backend", default=defaults.backend, help="reader backend: auto, onnx, onnx-int8 or torch")
    parser.add_argument("--threads", type=positive_int, default=defaults.threads, help="inference threads per worker")
    parser.add_argument("--max-batch", type=positive_int, default=defaults.max_batch,
                        help="most requests read at once")
    parser.add_argument("--batch-wait-ms", type=non_negative, default=defaults.batch_wait * 1000,
                        help="wait this long for more requests before reading a small batch (default 0: "
                             "batches form while the network is busy, a lone request is read at once)")
    parser.add_argument("--max-body", type=size, default=limits.max_body,
                        help="largest request or WebSocket message (default 10MiB)")
    parser.add_argument("--max-inflated", type=size, default=limits.max_inflated,
                        help="largest a gzip'd image may inflate to (default 32MiB)")
    parser.add_argument("--max-pixels", type=positive_int, default=limits.max_pixels,
                        help="largest image, width x height (default: as for every image read)")
    parser.add_argument("--timeout", type=positive, default=limits.timeout,
                        help="seconds per request or WebSocket frame (default 10)")
    parser.add_argument("--max-connections", type=positive_int, default=limits.max_connections,
                        help="requests in flight plus open WebSockets, per worker (default 256)")
    parser.add_argument("--access-log", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    from digitocr.serve import Limits, ServeConfig, serve

    config = ServeConfig(model=args.model, profiles=tuple(args.profile), host=args.host, port=args.port,
                         workers=args.workers, token=args.token, insecure=args.insecure, backend=args.backend,
                         threads=args.threads, max_batch=args.max_batch, batch_wait=args.batch_wait_ms / 1000,
                         access_log=args.access_log,
                         limits=Limits(max_body=args.max_body, max_inflated=args.max_inflated,
                                       max_pixels=args.max_pixels, timeout=args.timeout,
                                       max_connections=args.max_connections))

    def listening(url: str) -> None:
        websocket = url.replace("http", "ws", 1)
        print(f"digitocr serve: listening on {url} (WebSocket {websocket}/, docs {url}/docs)",
              flush=True)

    serve(config, on_listening=listening)
    print("digitocr serve: stopped", file=sys.stderr)
    return 0
