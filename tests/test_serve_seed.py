"""The seed's client against `digitocr serve --profile` with a model fitted to the game: a gzip'd JPEG of the
real screenshot (../shared/real/seed-screens/test.png) in, the speed `151` out.

The model is the session's fit of the six refined crops (tests/conftest.py), so these tests are marked slow.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import statistics
import time
from pathlib import Path

import cv2
import httpx
import pytest
import websockets
from serve_process import ServerProcess

from digitocr.client import AsyncClient

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
SCREENS = REAL / "seed-screens"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def game_model(tmp_path_factory: pytest.TempPathFactory, seed_fit: Path) -> Path:
    """A copy of the session's model fitted on the game's six refined crops, exported to ONNX."""
    from digitocr.export import export_onnx

    model = tmp_path_factory.mktemp("fit") / "best"
    shutil.copytree(seed_fit / "best", model)
    export_onnx(model)
    return model


@pytest.fixture(scope="module")
def game_server(game_model: Path, tmp_path_factory: pytest.TempPathFactory):
    regions = json.loads((SCREENS / "regions.json").read_text())
    profile = tmp_path_factory.mktemp("profile") / "game.toml"
    profile.write_text(f'name = "game"\nsize = {regions["size"]}\nmodel = "{game_model}"\n'
                       + "".join(f'[regions.{name}]\nbox = {region["box"]}\nformat = "int"\n'
                                 for name, region in regions["regions"].items()))
    with ServerProcess("--profile", str(profile)) as server:
        yield server
        assert server.alive()
    assert "Traceback" not in "".join(server.output)


def seed_message() -> bytes:
    """What the seed's client sends: the grayscale screenshot as a JPEG, gzip'd."""
    gray = cv2.imread(str(SCREENS / "test.png"), cv2.IMREAD_GRAYSCALE)
    return gzip.compress(cv2.imencode(".jpg", gray)[1].tobytes())


def test_seed_client_reads_the_speed(game_server: ServerProcess) -> None:
    async def seed_client() -> str:
        async with websockets.connect(game_server.ws_url) as websocket:  # ws://127.0.0.1:PORT, as the seed
            await websocket.send(seed_message())
            return await websocket.recv()

    assert asyncio.run(seed_client()) == "151"
    assert game_server.startup_seconds < 30  # the figure (under 2 s) is measured by benchmarks/bench_serve.py


def test_http_and_stream_read_every_region(game_server: ServerProcess) -> None:
    png = (SCREENS / "test.png").read_bytes()
    regions = httpx.post(f"{game_server.url}/read?profile=game", content=png, timeout=30).json()["regions"]
    assert {name: reading["value"] for name, reading in regions.items()} == {"speed": 151, "rpm": 4561}

    async def stream() -> list[dict]:
        async with AsyncClient(game_server.url) as client, await client.stream(profile="game") as frames:
            return [answer async for answer in frames.read_many([seed_message()] * 30)]
    answers = asyncio.run(stream())
    assert [a["seq"] for a in answers] == list(range(30))
    assert {a["regions"]["speed"]["text"] for a in answers} == {"151"}


def test_seed_round_trip_is_quick(game_server: ServerProcess) -> None:
    """A loose bound for a busy test machine; benchmarks/bench_serve.py measures the figure itself."""
    message = seed_message()

    async def round_trips() -> list[float]:
        times = []
        async with websockets.connect(game_server.ws_url) as websocket:
            for _ in range(20):
                sent = time.perf_counter()
                await websocket.send(message)
                assert await websocket.recv() == "151"
                times.append(time.perf_counter() - sent)
        return times
    assert statistics.median(asyncio.run(round_trips())) < 0.5
