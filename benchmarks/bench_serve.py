"""`digitocr serve` under load, against a server this script starts on loopback (and stops).

Figures (README, "Serving"):
  * single-crop HTTP requests/s with C concurrent keep-alive clients, and their p50/p99 latency: a raw
    HTTP/1.1 load generator in its own process (so the figure is the server's, not httpx's), plus the same
    load through `digitocr.client.AsyncClient` (httpx) for what a Python program sees;
  * crops/s over one WebSocket stream (`?mode=json`, frames sent ahead, answers in order);
  * the seed's client round trip: a gzip'd grayscale JPEG of the whole screenshot
    (../shared/real/seed-screens/test.png) sent on ws://, the speed back as text, one at a time;
  * the same round trip against a server of the seed's design (the model loaded again for every message);
  * rapidocr_api, where installed (`--rapidocr-python VENV/bin/python`): its /ocr endpoint on the same crop;
  * how long `digitocr serve --profile` takes until /health answers.

    .venv/bin/python benchmarks/bench_serve.py --model runs/game/best [--seconds 5] [--clients 16]

Every load is bounded in time and count, and only ever sent to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real"
SCREEN = REAL / "seed-screens" / "test.png"
CROP = REAL / "seed-raw" / "151_speed.png"
LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")
MAX_REQUESTS = 200_000  # a hard bound on any one load, whatever --seconds says


def start_server(arguments: list[str], timeout: float = 60.0) -> tuple[subprocess.Popen[str], str, float]:
    """`digitocr serve ARGUMENTS --port 0`: the process, its URL, and seconds until /health answered."""
    import httpx

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "digitocr", "serve", *arguments, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = LISTENING.search(line)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stdout.read()}")
    url = match.group(1)
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.01)
    process.kill()
    raise SystemExit("the server never answered /health")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# --- raw HTTP/1.1 keep-alive load (its own process) --------------------------------------------------------

def raw_http_load(url: str, path: str, body: bytes, clients: int, seconds: float, token: str | None = None,
                  content_type: str = "application/octet-stream") -> dict[str, float]:
    """Requests/s and latency of `clients` keep-alive connections POSTing `body` back to back."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_raw_http_load, (url, path, body, clients, seconds, token, content_type))


def _raw_http_load(url: str, path: str, body: bytes, clients: int, seconds: float, token: str | None,
                   content_type: str) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{auth}"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    failures = 0

    async def client(deadline: float) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - sent)
                failures += not head.startswith(b"HTTP/1.1 200")
        except (ConnectionError, asyncio.IncompleteReadError):  # the server dropped the connection
            failures += 1
        writer.close()

    async def main() -> float:
        nonlocal failures
        await asyncio.wait_for(client(time.perf_counter() + 0.5), 60)  # warm-up: one client
        latencies.clear()
        start = time.perf_counter()
        try:  # a request in flight at the deadline is waited for, 30 s at most (a peer may take that long)
            loads = asyncio.gather(*(client(start + seconds) for _ in range(clients)))
            await asyncio.wait_for(loads, seconds + 30)
        except TimeoutError:
            failures += clients  # unanswered when time ran out
        return time.perf_counter() - start

    try:
        import uvloop
        elapsed = uvloop.run(main())
    except ImportError:
        elapsed = asyncio.run(main())
    return {"requests": len(latencies), "per_s": len(latencies) / elapsed, "failures": failures,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


# --- through digitocr.client -----------------------------------------------------------------------------

async def client_http_load(url: str, crop: bytes, clients: int, seconds: float) -> dict[str, float]:
    from digitocr.client import AsyncClient

    latencies: list[float] = []
    async with AsyncClient(url, max_connections=clients) as client:
        async def one(deadline: float) -> None:
            while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
                sent = time.perf_counter()
                await client.read(crop)
                latencies.append(time.perf_counter() - sent)

        start = time.perf_counter()
        await asyncio.gather(*(one(start + seconds) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


async def stream_load(url: str, crop: bytes, count: int) -> dict[str, float]:
    from digitocr.client import AsyncClient

    async with AsyncClient(url) as client, await client.stream() as stream:
        async for _ in stream.read_many([crop] * 200, window=64):  # warm-up
            pass
        start = time.perf_counter()
        texts = [answer["text"] async for answer in stream.read_many([crop] * count, window=64)]
        elapsed = time.perf_counter() - start
    return {"frames": len(texts), "per_s": len(texts) / elapsed}


async def seed_round_trips(ws_url: str, message: bytes, count: int) -> tuple[list[float], str]:
    """The seed's client: connect, send one gzip'd JPEG, receive the speed as text (one connection per frame,
    as the seed's agent does it, and the time of the whole exchange)."""
    import websockets

    times, answer = [], ""
    for _ in range(count):
        sent = time.perf_counter()
        async with websockets.connect(ws_url, max_size=None, compression=None) as websocket:
            await websocket.send(message)
            answer = str(await websocket.recv())
        times.append(time.perf_counter() - sent)
    return times, answer


async def seed_on_one_connection(ws_url: str, message: bytes, count: int) -> list[float]:
    import websockets

    times = []
    async with websockets.connect(ws_url, max_size=None, compression=None) as websocket:
        for _ in range(count):
            sent = time.perf_counter()
            await websocket.send(message)
            await websocket.recv()
            times.append(time.perf_counter() - sent)
    return times


# --- a server of the seed's design: the model loaded again for every message ------------------------------

def seed_design_server(port_file: str, model: str, box: list[int]) -> None:
    """What the seed's server/server.py does, on this project's Reader: for each message, load the model,
    gunzip and decode the JPEG, crop the speed, read it, answer with the text."""
    import websockets
    from websockets.asyncio.server import serve

    from digitocr.images import open_image
    from digitocr.reader import Reader

    async def handler(websocket: websockets.asyncio.server.ServerConnection) -> None:
        async for message in websocket:
            reader = Reader(model, backend="torch", threads=1)  # the seed reloads its checkpoint each time
            pixels = open_image(gzip.decompress(message))
            await websocket.send(reader.read(pixels, tuple(box)).text)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
            Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
            await asyncio.Future()

    asyncio.run(main())


def start_seed_design(model: str, box: list[int]) -> tuple[multiprocessing.Process, str]:
    port_file = tempfile.mktemp(prefix="seed-port-")
    process = multiprocessing.get_context("spawn").Process(target=seed_design_server,
                                                             args=(port_file, model, box), daemon=True)
    process.start()
    for _ in range(600):
        if os.path.exists(port_file) and Path(port_file).read_text():
            return process, f"ws://127.0.0.1:{Path(port_file).read_text()}"
        time.sleep(0.05)
    raise SystemExit("the seed-design server did not start")


# --- rapidocr_api, where installed --------------------------------------------------------------------------

def rapidocr_api_load(python: str, crop: bytes, clients: int, seconds: float) -> dict[str, float] | str:
    """rapidocr_api's server (run by `python`, which has it installed): the same load on the same crop."""
    found = subprocess.run([python, "-c", "import rapidocr_api"], check=False, capture_output=True)
    if found.returncode != 0:
        return f"not installed for {python} (pip install rapidocr_api onnxruntime)"
    import httpx

    with socket.socket() as probe:  # a free loopback port for it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([python, "-m", "rapidocr_api.main", "-ip", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=tempfile.gettempdir())
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        boundary = "benchboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"c.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + crop + f"\r\n--{boundary}--\r\n".encode()
        return raw_http_load(f"http://127.0.0.1:{port}", "/ocr", body, clients, seconds,
                             content_type=f"multipart/form-data; boundary={boundary}")
    finally:
        stop(process)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model folder (one `digitocr fit` made on the game)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load (default 5)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    parser.add_argument("--frames", type=int, default=6000, help="frames sent over the WebSocket stream")
    parser.add_argument("--round-trips", type=int, default=100, help="seed client round trips")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, help="the server's --threads (default: the server's own)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--rapidocr-python", default=sys.executable,
                        help="a Python with rapidocr_api installed (its own venv: it wants opencv-python)")
    args = parser.parse_args()

    regions = json.loads((SCREEN.parent / "regions.json").read_text())
    speed_box = regions["regions"]["speed"]["box"]
    crop = CROP.read_bytes()
    gray = cv2.imread(str(SCREEN), cv2.IMREAD_GRAYSCALE)
    seed_message = gzip.compress(cv2.imencode(".jpg", gray)[1].tobytes())  # the seed sends a gzip'd gray JPEG

    figures: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                  "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
                                  "clients": args.clients, "workers": args.workers, "threads": args.threads}
    with tempfile.TemporaryDirectory() as folder:
        profile = Path(folder) / "game.toml"
        model = Path(args.model).resolve()
        profile.write_text(f'name = "game"\nsize = {regions["size"]}\nmodel = "{model}"\n'
                           f'[regions.speed]\nbox = {speed_box}\n'
                           f'[regions.rpm]\nbox = {regions["regions"]["rpm"]["box"]}\n')
        threads = ["--threads", str(args.threads)] if args.threads else []
        process, url, startup = start_server(["--profile", str(profile), "--workers", str(args.workers), *threads])
        figures["startup_s"] = round(startup, 2)
        try:
            figures["http_raw"] = raw_http_load(url, "/read", crop, args.clients, args.seconds)
            figures["http_client"] = asyncio.run(client_http_load(url, crop, args.clients, args.seconds))
            figures["stream"] = asyncio.run(stream_load(url, crop, args.frames))
            ws_url = url.replace("http", "ws", 1)
            times, answer = asyncio.run(seed_round_trips(ws_url, seed_message, args.round_trips))
            figures["seed_client"] = {"answer": answer, "median_ms": statistics.median(times) * 1000,
                                      "p90_ms": percentile(times, 90) * 1000}
            kept = asyncio.run(seed_on_one_connection(ws_url, seed_message, args.round_trips))
            figures["seed_one_connection"] = {"median_ms": statistics.median(kept) * 1000}
            figures["health"] = json.loads(__import__("httpx").get(f"{url}/health").text)
        finally:
            stop(process)
    seed_process, seed_url = start_seed_design(args.model, speed_box)
    try:
        times, answer = asyncio.run(seed_round_trips(seed_url, seed_message, max(5, args.round_trips // 10)))
        figures["seed_design"] = {"answer": answer, "median_ms": statistics.median(times) * 1000}
    finally:
        seed_process.terminate()
    figures["rapidocr_api"] = rapidocr_api_load(args.rapidocr_python, crop, args.clients, args.seconds)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def report(f: dict) -> None:
    http, client, stream = f["http_raw"], f["http_client"], f["stream"]
    print(f"{f['date']}, {f['cpus']} CPUs, load average {f['load_average']:.1f} when it started, "
          f"{f['workers']} worker(s)")
    print(f"serve --profile ready in {f['startup_s']} s")
    print("| what | figure |\n| --- | --- |")
    print(f"| HTTP POST /read, one crop, {f['clients']} keep-alive clients (raw load generator) | "
          f"{http['per_s']:.0f} req/s, p50 {http['p50_ms']:.1f} ms, p99 {http['p99_ms']:.1f} ms |")
    print(f"| the same through digitocr.client.AsyncClient (httpx) | {client['per_s']:.0f} req/s, "
          f"p99 {client['p99_ms']:.1f} ms |")
    print(f"| one WebSocket stream (JSON mode) | {stream['per_s']:.0f} crops/s |")
    seed = f["seed_client"]
    print("| seed client round trip (new connection, gzip'd JPEG screenshot) | "
          f"median {seed['median_ms']:.1f} ms, "
          f"p90 {seed['p90_ms']:.1f} ms (answer {seed['answer']!r}) |")
    print(f"| seed client, one kept connection | median {f['seed_one_connection']['median_ms']:.1f} ms |")
    design = f["seed_design"]
    print(f"| seed's design (model reloaded per message) | median {design['median_ms']:.1f} ms "
          f"(answer {design['answer']!r}) |")
    peer = f["rapidocr_api"]
    print("| rapidocr_api /ocr, same crop, same clients | " + (
        f"{peer['per_s']:.1f} req/s ({peer['requests']} answered), p50 {peer['p50_ms']:.0f} ms, "
        f"p99 {peer['p99_ms']:.0f} ms, {peer['failures']} failed |"
        if isinstance(peer, dict) else f"{peer} |"))
    health = f["health"]
    print(f"micro-batching: {health['mean_batch']} jobs per batch on average, "
          f"largest {health['largest_batch']}")


if __name__ == "__main__":
    main()
