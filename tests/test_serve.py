"""`digitocr serve` as a real process on a free loopback port: every endpoint, the seed's WebSocket protocol,
the JSON stream, 64 clients at once, the token, the limits, and every bad input of issue 9 — after each of
which the server must still answer correctly.

The fast tests read with the shipped general model (ONNX, no training); what the server answers is compared
with what `Reader` answers in this process for the same pixels.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import socket
import struct
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
import websockets
from digit_images import draw_digits, random_labels
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from serve_process import ServerProcess
from websockets.sync.client import connect

from digitocr.cli import main
from digitocr.client import AsyncClient, Client, ServerError
from digitocr.errors import UserError
from digitocr.images import encode_image
from digitocr.reader import Reader
from digitocr.serve.batching import Batcher
from digitocr.serve.config import Limits, ServeConfig
from digitocr.serve.engine import Engine, Job
from digitocr.serve.limits import Refusal, ungzip

TOKEN = "s3cret-token-for-tests"
SPEED_BOX = (30, 40)  # where the screenshot's speed is drawn (left, top)
RPM_BOX = (220, 120)


def png(image: Image.Image | np.ndarray) -> bytes:
    return encode_image(np.asarray(image), "png")


def screenshot() -> np.ndarray:
    """A 400x200 'dashboard': the speed 151 and the rpm 4561, light on dark, as the game shows them."""
    frame = np.full((200, 400), 30, dtype=np.uint8)
    for text, (left, top) in (("151", SPEED_BOX), ("4561", RPM_BOX)):
        crop = np.asarray(draw_digits(text, light_on_dark=True))
        frame[top:top + crop.shape[0], left:left + crop.shape[1]] = np.maximum(crop, 30)
    return frame


def box(text: str, corner: tuple[int, int]) -> list[int]:
    width = draw_digits(text).width
    return [corner[0], corner[1], corner[0] + width, corner[1] + 32]


@pytest.fixture(scope="module")
def profile_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("profile") / "dash.toml"
    path.write_text(f'name = "dash"\nsize = [400, 200]\n[regions.speed]\nbox = {box("151", SPEED_BOX)}\n'
                    f'format = "int"\n[regions.rpm]\nbox = {box("4561", RPM_BOX)}\n')
    return path


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(threads=1)  # the shipped model, as the server without --model


@pytest.fixture(scope="module")
def server(profile_file: Path):
    with ServerProcess("--profile", str(profile_file), "--max-body", "1MB", "--max-inflated", "4MB",
                       "--timeout", "3", "--max-pixels", "4000000") as process:
        yield process
        assert process.alive(), "the server died during the tests"
    assert "Traceback" not in "".join(process.output), "".join(process.output)[-3000:]


def expected(reader: Reader, image: Image.Image | np.ndarray) -> dict:
    return reader.read(np.asarray(image)).to_dict()


def assert_same_reading(answer: dict, wanted: dict) -> None:
    """The same text (the confidence may differ a little: in another batch, a crop is padded to another
    width)."""
    assert answer["text"] == wanted["text"] and 0 <= answer["confidence"] <= 1


def assert_still_serving(server: ServerProcess, reader: Reader) -> None:
    """The process is up and reads a crop as this process does."""
    assert server.alive()
    crop = draw_digits("2048")
    response = httpx.post(f"{server.url}/read", content=png(crop), timeout=10)
    assert response.status_code == 200, response.text
    assert_same_reading(response.json(), expected(reader, crop))


# --- endpoints --------------------------------------------------------------------------------------------

def test_health_models_and_docs(server: ServerProcess) -> None:
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["profiles"] == ["dash"]
    models = httpx.get(f"{server.url}/models").json()
    assert models["models"][0]["default"] and models["models"][0]["backend"] == "onnx"
    assert "metrics" in models["models"][0] and models["models"][0]["charset"].startswith("0123456789")
    assert models["profiles"]["dash"]["regions"]["speed"]["format"] == "int"
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/read", "/health", "/models"} <= set(spec["paths"])
    assert {p["name"] for p in spec["paths"]["/read"]["post"]["parameters"]} == {"profile", "format"}


def test_read_a_crop_raw_multipart_and_gzip(server: ServerProcess, reader: Reader) -> None:
    crop = draw_digits("3071")
    wanted = expected(reader, crop)
    raw = httpx.post(f"{server.url}/read", content=png(crop), headers={"Content-Type": "image/png"})
    assert_same_reading(raw.json(), wanted)
    form = httpx.post(f"{server.url}/read", files={"file": ("crop.png", png(crop), "image/png")})
    assert_same_reading(form.json(), wanted)
    zipped = httpx.post(f"{server.url}/read", content=gzip.compress(png(crop)),
                        headers={"Content-Encoding": "gzip", "Content-Type": "image/png"})
    assert_same_reading(zipped.json(), wanted)
    jpeg = encode_image(np.asarray(crop), "jpg")
    assert_same_reading(httpx.post(f"{server.url}/read", content=jpeg).json(), expected(reader, Image.open(
        io.BytesIO(jpeg))))
    formatted = httpx.post(f"{server.url}/read?format=int", content=png(crop)).json()
    assert formatted["value"] == int(formatted["text"]) if formatted["text"].isdigit() else True


def test_read_a_screenshot_with_a_profile(server: ServerProcess, reader: Reader, profile_file: Path) -> None:
    from digitocr.profile import load_profile

    frame = screenshot()
    answer = httpx.post(f"{server.url}/read?profile=dash", content=png(frame)).json()
    wanted = reader.read_screen(frame, load_profile(profile_file))
    assert answer["profile"] == "dash" and set(answer["regions"]) == {"speed", "rpm"}
    for name, reading in wanted.items():
        assert_same_reading(answer["regions"][name], reading.to_dict())
    assert answer["regions"]["speed"]["text"] == "151" and answer["regions"]["rpm"]["text"] == "4561"


def test_client_library_sync_and_async(server: ServerProcess, reader: Reader) -> None:
    crop = draw_digits("88")
    with Client(server.url) as client:
        assert_same_reading(client.read(np.asarray(crop)), expected(reader, crop))
        assert client.read(png(screenshot()), profile="dash")["regions"]["speed"]["text"] == "151"
        assert client.health()["status"] == "ok" and client.models()["profiles"]
        with pytest.raises(ServerError) as refused:
            client.read(b"not an image")
        assert refused.value.status == 400 and "cannot read" in refused.value.detail

    async def run() -> None:
        async with AsyncClient(server.url) as client:
            assert_same_reading(await client.read(crop), expected(reader, crop))
            async with await client.stream() as stream:
                assert_same_reading(await stream.read(crop), expected(reader, crop))
    asyncio.run(run())


# --- the WebSocket ----------------------------------------------------------------------------------------

def test_seed_client_protocol_gzipped_jpeg_and_png(server: ServerProcess) -> None:
    """The seed's client: connect, send one gzip'd JPEG (or PNG) of the screen, receive the speed as text."""
    frame = screenshot()

    async def seed_client(message: bytes) -> str:
        async with websockets.connect(server.ws_url) as websocket:
            await websocket.send(message)
            return await websocket.recv()

    assert asyncio.run(seed_client(gzip.compress(encode_image(frame, "jpg")))) == "151"
    assert asyncio.run(seed_client(gzip.compress(png(frame)))) == "151"
    with connect(f"{server.ws_url}/?region=rpm") as websocket:  # one connection, many messages
        for _ in range(3):
            websocket.send(png(frame))
            assert websocket.recv() == "4561"


def test_stream_answers_every_frame_in_order(server: ServerProcess, reader: Reader) -> None:
    labels = random_labels(300, seed=5)
    crops = [draw_digits(label) for label in labels]
    wanted = [reading.to_dict() for reading in reader.read_batch([np.asarray(c) for c in crops])]
    messages = [png(crop) for crop in crops]
    with Client(server.url) as client, client.stream() as stream:
        answers = list(stream.read_many(messages, window=48))
    assert [answer["seq"] for answer in answers] == list(range(len(labels)))
    for answer, reading in zip(answers, wanted):
        assert_same_reading(answer, reading)
    with connect(f"{server.ws_url}/?mode=json") as websocket:  # screenshots, with the first profile
        websocket.send(png(screenshot()))
        assert json.loads(websocket.recv())["regions"]["rpm"]["text"] == "4561"


def test_stream_bad_frame_is_answered_in_place(server: ServerProcess, reader: Reader) -> None:
    crop = png(draw_digits("12"))
    with connect(f"{server.ws_url}/?mode=json&crop=true") as websocket:
        for message in (crop, b"garbage", crop):
            websocket.send(message)
        answers = [json.loads(websocket.recv()) for _ in range(3)]
    assert [a["seq"] for a in answers] == [0, 1, 2]
    assert answers[1]["error"]["status"] == 400 and "cannot read" in answers[1]["error"]["detail"]
    assert answers[0]["text"] == answers[2]["text"]
    assert_still_serving(server, reader)


@pytest.mark.parametrize(("query", "message", "code", "reason"), [
    ("", "a text frame", 4415, "expected a binary message"),
    ("", gzip.compress(bytes(20 * 2**20)), 4413, "inflates to more than"),
    ("", b"\x89PNG\r\n\x1a\n garbage", 4400, "cannot read"),
    ("?mode=xml", None, 4400, "mode is"),
    ("?profile=nope", None, 4404, "no profile named"),
    ("?region=fuel", None, 4404, "no region"),
])
def test_websocket_refusals_close_with_a_code_and_reason(server: ServerProcess, reader: Reader, query: str,
                                                        message: bytes | str | None, code: int,
                                                        reason: str) -> None:
    with connect(f"{server.ws_url}/{query}", max_size=None) as websocket:
        if message is not None:
            websocket.send(message)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            websocket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert reason in closed.value.rcvd.reason
    assert_still_serving(server, reader)


def test_websocket_message_over_the_body_limit_is_refused(server: ServerProcess, reader: Reader) -> None:
    with connect(server.ws_url, max_size=None) as websocket:
        try:
            websocket.send(bytes(2 * 10**6))  # the server was started with --max-body 1MB
            websocket.recv(timeout=10)
        except websockets.ConnectionClosed as closed:
            # 1009 "message too big"; or no close frame at all when the server's close reset the connection
            # while the rest of the message was still on its way (a race of TCP, not of the server)
            assert closed.rcvd is None or closed.rcvd.code == 1009, closed.rcvd
        except ConnectionResetError:
            pass
        else:
            pytest.fail("a message over the body limit was answered")
    assert_still_serving(server, reader)


# --- bad input over HTTP ------------------------------------------------------------------------------------

def huge_png_header(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG signature and IHDR claiming width x height pixels, then almost nothing."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(header)) + b"IHDR" + header
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + header))
    idat = zlib.compress(b"\0" * 100)
    return (b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", len(idat)) + b"IDAT" + idat
            + struct.pack(">I", zlib.crc32(b"IDAT" + idat)))


BAD_REQUESTS = {
    "empty": (b"", {}, "", 400, "empty"),
    "garbage": (b"\x00\x01garbage" * 10, {}, "", 400, "cannot read"),
    "truncated": (png(draw_digits("151"))[:60], {}, "", 400, "cannot read"),
    "30000x30000 header": (huge_png_header(), {}, "", 400, "decompression bomb"),
    "gzip bomb": (gzip.compress(bytes(64 * 2**20)), {}, "", 413, "inflates to more than"),
    "corrupt gzip": (gzip.compress(png(draw_digits("1")))[:-12], {}, "", 400, "gzip"),
    "wrong content type": (b'{"a": 1}', {"Content-Type": "application/json"}, "", 415, "application/json"),
    "unknown encoding": (b"x", {"Content-Encoding": "br"}, "", 415, "br"),
    "gzip header without gzip": (b"x", {"Content-Encoding": "gzip"}, "", 400, "not gzip"),
    "too large": (bytes(1_100_000), {}, "", 413, "larger than"),
    "region outside the image": (png(np.full((50, 80), 255, np.uint8)), {}, "?profile=dash", 422, "frame"),
    "unknown profile": (png(screenshot()), {}, "?profile=nope", 404, "no profile named"),
    "bad format": (png(draw_digits("1")), {}, "?format=nonsense", 400, "format"),
    "multipart without a file": (b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nvalue\r\n--b--\r\n',
                                 {"Content-Type": "multipart/form-data; boundary=b"}, "", 400, "no file"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_input_is_a_json_4xx_and_the_server_goes_on(server: ServerProcess, reader: Reader,
                                                        name: str) -> None:
    body, headers, query, status, words = BAD_REQUESTS[name]
    response = httpx.post(f"{server.url}/read{query}", content=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["detail"]
    assert_still_serving(server, reader)


def test_chunked_body_over_the_limit_is_refused_while_it_arrives(server: ServerProcess,
                                                                 reader: Reader) -> None:
    def chunks():
        for _ in range(40):  # 40 x 64 KB: past the 1 MB limit, with no Content-Length to check up front
            yield bytes(64 * 1024)

    response = httpx.post(f"{server.url}/read", content=chunks(), timeout=30)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
    assert_still_serving(server, reader)


def raw_request(server: ServerProcess) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_client_that_disconnects_mid_request(server: ServerProcess, reader: Reader) -> None:
    body = png(screenshot())
    for cut in (10, len(body) // 2):
        with raw_request(server) as sock:
            sock.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])
    with connect(f"{server.ws_url}/?mode=json&crop=true") as websocket:  # frames sent, then gone
        for _ in range(20):
            websocket.send(png(draw_digits("7")))
    assert_still_serving(server, reader)


def test_a_body_that_never_finishes_times_out(server: ServerProcess, reader: Reader) -> None:
    started = time.monotonic()
    with raw_request(server) as sock:  # the server was started with --timeout 3
        sock.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Content-Length: 5000\r\n\r\nabc")
        answer = b""
        while b"longer" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and b"longer than the 3 s" in answer
    assert time.monotonic() - started < 20  # 3 s, and room for a busy machine
    assert_still_serving(server, reader)


def test_64_clients_at_once_are_batched_and_answered_correctly(server: ServerProcess, reader: Reader) -> None:
    labels = random_labels(64 * 4, seed=9)
    crops = [draw_digits(label) for label in labels]
    wanted = [reading.to_dict() for reading in reader.read_batch([np.asarray(c) for c in crops])]
    bodies = [png(crop) for crop in crops]
    before = httpx.get(f"{server.url}/health").json()

    async def run() -> list[dict]:
        async with AsyncClient(server.url, max_connections=64) as client:
            async def one(k: int) -> list[dict]:
                return [await client.read(bodies[i]) for i in range(k, len(bodies), 64)]
            answers = await asyncio.wait_for(asyncio.gather(*(one(k) for k in range(64))), timeout=120)
        by_index: list[dict] = [{}] * len(bodies)
        for k, results in enumerate(answers):
            for j, result in enumerate(results):
                by_index[k + 64 * j] = result
        return by_index

    for answer, reading in zip(asyncio.run(run()), wanted):
        assert_same_reading(answer, reading)
    after = httpx.get(f"{server.url}/health").json()
    jobs, batches = after["jobs"] - before["jobs"], after["batches"] - before["batches"]
    assert jobs == len(bodies) and batches < jobs  # requests that arrived together were read together
    assert_still_serving(server, reader)


def test_64_websocket_clients_at_once(server: ServerProcess, reader: Reader) -> None:
    message = gzip.compress(encode_image(screenshot(), "jpg"))

    async def seed_client() -> str:
        async with websockets.connect(server.ws_url) as websocket:
            await websocket.send(message)
            return await websocket.recv()

    async def run() -> list[str]:
        return await asyncio.wait_for(asyncio.gather(*(seed_client() for _ in range(64))), timeout=120)
    assert asyncio.run(run()) == ["151"] * 64
    assert_still_serving(server, reader)


# --- limits, token and workers need servers of their own ---------------------------------------------

def test_connection_limit_refuses_with_429_and_4429(reader: Reader) -> None:
    with ServerProcess("--max-connections", "3") as server:
        sockets = [connect(f"{server.ws_url}/?mode=json", legacy=True) for _ in range(3)]
        try:
            response = httpx.post(f"{server.url}/read", content=png(draw_digits("5")))
            assert response.status_code == 429 and "too many" in response.json()["detail"]
            with connect(server.ws_url) as extra, pytest.raises(websockets.ConnectionClosed) as closed:
                extra.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        finally:
            for websocket in sockets:
                websocket.close()
        time.sleep(0.2)
        assert_still_serving(server, reader)


def test_token_is_required_except_for_health(reader: Reader) -> None:
    with ServerProcess("--token", TOKEN) as server:
        crop = png(draw_digits("42"))
        refused = httpx.post(f"{server.url}/read", content=crop)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert httpx.post(f"{server.url}/read", content=crop, headers={"Authorization": "Bearer wrong-token"}
                          ).status_code == 401
        assert httpx.get(f"{server.url}/models").status_code == 401
        assert httpx.get(f"{server.url}/health").status_code == 200
        with Client(server.url, token=TOKEN) as client:
            assert_same_reading(client.read(crop), expected(reader, draw_digits("42")))
            with client.stream() as stream:
                assert stream.read(crop)["text"] == client.read(crop)["text"]
        with connect(f"{server.ws_url}/?token={TOKEN}&crop=true") as websocket:  # as browsers: in the URL
            websocket.send(crop)
            assert websocket.recv(timeout=10) == expected(reader, draw_digits("42"))["text"]
        with connect(server.ws_url) as websocket, pytest.raises(websockets.ConnectionClosed) as closed:
            websocket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.parametrize(("arguments", "message"), [
    (["--host", "0.0.0.0"], "--token"),
    (["--token", "short"], "at least 8"),
    (["--timeout", "0"], "--timeout: must be in (0, ∞)"),
    (["--profile", "/no/such/profile.toml"], "cannot read profile"),
    (["--batch-wait-ms", "5000"], "between 0 and 1000"),
])
def test_unsafe_or_broken_settings_are_refused_before_listening(arguments: list[str], message: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["serve", *arguments, "--port", "0"])
    except SystemExit as stopped:  # refused by argparse, where the option is parsed
        code = stopped.code
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_workers_share_the_port(reader: Reader) -> None:
    with ServerProcess("--workers", "2") as server:
        crop = png(draw_digits("606"))
        pids = set()
        for _ in range(40):
            with httpx.Client() as fresh:  # new connections, so the kernel spreads them over the workers
                pids.add(fresh.get(f"{server.url}/health").json()["pid"])
                assert_same_reading(fresh.post(f"{server.url}/read", content=crop).json(),
                                    expected(reader, draw_digits("606")))
        assert len(pids) == 2


# --- the decoding entry points, fuzzed ---------------------------------------------------------------

@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(ServeConfig(limits=Limits(max_inflated=2**20, max_pixels=2**20)))


def test_batcher_reads_what_arrives_together_as_one_batch() -> None:
    seen: list[list[int]] = []

    def run(jobs: list[int]) -> list[object]:
        seen.append(list(jobs))
        return [ValueError("odd") if job % 2 else job * 10 for job in jobs]

    async def scenario(max_wait: float) -> list[object]:
        batcher = Batcher(run, max_batch=8, max_wait=max_wait)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.read(job) for job in range(12)), return_exceptions=True)
        finally:
            await batcher.stop()

    results = asyncio.run(scenario(0.05))
    assert [r if isinstance(r, int) else "odd" for r in results] == [
        j * 10 if j % 2 == 0 else "odd" for j in range(12)]  # each job its own result or error, in order
    assert [len(batch) for batch in seen] == [8, 4]  # max_batch, then the rest
    seen.clear()
    asyncio.run(scenario(0.0))
    assert sum(len(batch) for batch in seen) == 12


def test_ungzip_stops_inflating_at_the_limit() -> None:
    bomb = gzip.compress(bytes(50 * 2**20))
    with pytest.raises(Refusal) as refused:
        ungzip(bomb, 2**20)
    assert refused.value.status == 413
    assert ungzip(gzip.compress(b"abc") + gzip.compress(b"def"), 10) == b"abcdef"  # several members
    assert ungzip(b"\x89PNG", 10) == b"\x89PNG"  # not gzip: as is
    with pytest.raises(Refusal, match="truncated"):
        ungzip(gzip.compress(bytes(1000))[:20], 10**6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=200).map(lambda tail: png(draw_digits("9"))[:40] + tail),  # a PNG gone wrong
    st.binary(max_size=200).map(lambda tail: gzip.compress(tail)),
    st.binary(max_size=200).map(lambda tail: b"\x1f\x8b" + tail),
    st.binary(max_size=200).map(lambda tail: b"\xff\xd8\xff\xe0" + tail),  # JPEG start
    st.binary(max_size=200).map(lambda tail: b"BM" + tail),  # BMP start
))
def test_decoding_never_fails_but_with_a_refusal(engine: Engine, data: bytes) -> None:
    for job in (Job(data, engine.crop_plan()),):
        result = engine.run([job])[0]
        assert isinstance(result, dict) or (isinstance(result, Refusal) and 400 <= result.status < 500)
    try:
        ungzip(data, 4096)
    except Refusal as refusal:
        assert refusal.status in (400, 413)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600), gzipped=st.booleans(), profile=st.booleans())
def test_fuzzed_bodies_over_http_and_websocket(server: ServerProcess, data: bytes, gzipped: bool,
                                               profile: bool) -> None:
    body = gzip.compress(data) if gzipped else data
    response = httpx.post(f"{server.url}/read{'?profile=dash' if profile else ''}", content=body, timeout=10)
    assert response.status_code in (200, 400, 413, 422), response.text
    with connect(f"{server.ws_url}/?mode=json", max_size=None) as websocket:
        websocket.send(body or b"\0")
        answer = json.loads(websocket.recv(timeout=10))
        assert answer["seq"] == 0 and ("regions" in answer or answer["error"]["status"] in (400, 413, 422))


def test_fuzzing_left_the_server_serving(server: ServerProcess, reader: Reader) -> None:
    assert_still_serving(server, reader)


def test_engine_refuses_duplicate_profile_names(profile_file: Path) -> None:
    with pytest.raises(UserError, match="two profiles are named 'dash'"):
        Engine(ServeConfig(profiles=(str(profile_file), str(profile_file))))
