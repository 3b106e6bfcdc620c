"""Clients for `digitocr serve`: HTTP (sync `Client`, async `AsyncClient`, on httpx) and the WebSocket stream
(`Client.stream()`, `AsyncClient.stream()`, on websockets).

    from digitocr.client import Client
    with Client("http://127.0.0.1:8765") as client:
        client.read("crop.png")["text"]                          # '151'
        client.read(screenshot_png, profile="game")["regions"]   # {'speed': {...}, 'rpm': {...}}
        with client.stream(profile="game") as stream:            # one WebSocket, JSON answers in order
            for answer in stream.read_many(frames):
                ...

Images may be bytes (PNG, JPEG, ... or gzip'd), a path, a numpy array or a PIL image (sent as PNG). A refusal
(4xx, or a WebSocket closed with code 4000 + status) raises `ServerError` with the server's reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from digitocr.errors import UserError

DEFAULT_URL = "http://127.0.0.1:8765"
OCTET_STREAM = {"Content-Type": "application/octet-stream"}
STREAM_WINDOW = 32  # frames sent ahead of the answers (the server reads up to 64 ahead)


class ServerError(UserError):
    """The server refused a request: `status` is the HTTP status (or WebSocket close code - 4000)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"server refused ({status}): {detail}")
        self.status = status
        self.detail = detail


def image_bytes(image: Any) -> bytes:
    """What to send for an image: bytes as they are, a file's bytes, arrays and PIL images as PNG."""
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    if isinstance(image, str | os.PathLike):
        return Path(image).read_bytes()
    from digitocr.images import encode_image, open_image

    return encode_image(open_image(image), "png")


def _query(**parameters: str | None) -> str:
    given = {key: value for key, value in parameters.items() if value is not None}
    return f"?{urlencode(given)}" if given else ""


def _stream_url(url: str, profile: str | None) -> str:
    query = _query(mode="json", profile=profile, crop=None if profile else "true")
    return f"{url.replace('http', 'ws', 1)}/{query}"


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json()["detail"]
        except (ValueError, KeyError, TypeError):
            detail = response.text[:200]
        raise ServerError(response.status_code, str(detail))
    return response.json()


def _stream_answer(message: str | bytes) -> dict[str, Any]:
    answer = json.loads(message)
    if "error" in answer:
        raise ServerError(answer["error"]["status"], answer["error"]["detail"])
    return answer


def _closed(error: ConnectionClosed) -> ServerError:
    code = error.rcvd.code if error.rcvd else 1006
    reason = error.rcvd.reason if error.rcvd else "connection lost"
    return ServerError(code - 4000 if code >= 4000 else code, reason)


class Client:
    """HTTP client with a keep-alive connection pool."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.url, headers=_headers(token), timeout=timeout)

    def read(self, image: Any, *, profile: str | None = None, format: str | None = None) -> dict[str, Any]:
        """The reading of a crop, or with `profile` the readings of a whole screenshot's regions."""
        response = self._http.post(f"/read{_query(profile=profile, format=format)}",
                                   content=image_bytes(image), headers=OCTET_STREAM)
        return _answer(response)

    def health(self) -> dict[str, Any]:
        return _answer(self._http.get("/health"))

    def models(self) -> dict[str, Any]:
        return _answer(self._http.get("/models"))

    def stream(self, *, profile: str | None = None) -> Stream:
        """A WebSocket that answers each frame with JSON, in order: frames are crops, or with `profile` whole
        screenshots."""
        url = _stream_url(self.url, profile)
        # legacy=True: connect() gives the connection itself, not a context manager
        return Stream(connect(url, additional_headers=_headers(self.token), open_timeout=self.timeout,
                              max_size=None, compression=None, legacy=True))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stream:
    """A JSON-mode WebSocket: `read(image)` for one round trip, `read_many(images)` to pipeline many."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    def send(self, image: Any) -> None:
        self._connection.send(image_bytes(image))

    def receive(self) -> dict[str, Any]:
        try:
            return _stream_answer(self._connection.recv())
        except ConnectionClosed as error:
            raise _closed(error) from None

    def read(self, image: Any) -> dict[str, Any]:
        self.send(image)
        return self.receive()

    def read_many(self, images: Iterable[Any], window: int = STREAM_WINDOW) -> Iterator[dict[str, Any]]:
        """The answers, in order, with up to `window` frames in flight."""
        in_flight = 0
        for image in images:
            if in_flight == window:
                yield self.receive()
                in_flight -= 1
            self.send(image)
            in_flight += 1
        for _ in range(in_flight):
            yield self.receive()

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of `Client`."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None, timeout: float = 10.0,
                 max_connections: int = 100) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(base_url=self.url, headers=_headers(token), timeout=timeout,
                                       limits=limits)

    async def read(self, image: Any, *, profile: str | None = None,
                   format: str | None = None) -> dict[str, Any]:
        response = await self._http.post(f"/read{_query(profile=profile, format=format)}",
                                         content=image_bytes(image),
                                         headers=OCTET_STREAM)
        return _answer(response)

    async def health(self) -> dict[str, Any]:
        return _answer(await self._http.get("/health"))

    async def models(self) -> dict[str, Any]:
        return _answer(await self._http.get("/models"))

    async def stream(self, *, profile: str | None = None) -> AsyncStream:
        url = _stream_url(self.url, profile)
        connection = await connect_async(url, additional_headers=_headers(self.token),
                                         open_timeout=self.timeout, max_size=None, compression=None)
        return AsyncStream(connection)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncStream:
    """The asyncio twin of `Stream` (`async with await client.stream() as stream:`)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def send(self, image: Any) -> None:
        await self._connection.send(image_bytes(image))

    async def receive(self) -> dict[str, Any]:
        try:
            return _stream_answer(await self._connection.recv())
        except ConnectionClosed as error:
            raise _closed(error) from None

    async def read(self, image: Any) -> dict[str, Any]:
        await self.send(image)
        return await self.receive()

    async def read_many(self, images: Iterable[Any],
                        window: int = STREAM_WINDOW) -> AsyncIterator[dict[str, Any]]:
        in_flight = 0
        for image in images:
            if in_flight == window:
                yield await self.receive()
                in_flight -= 1
            await self.send(image)
            in_flight += 1
        for _ in range(in_flight):
            yield await self.receive()

    async def close(self) -> None:
        await self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
