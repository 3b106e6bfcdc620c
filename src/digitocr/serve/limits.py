"""What the server refuses, and how: every refusal is an HTTP 4xx with a JSON `detail`, or on a WebSocket a
close code 4000 + that status with the same reason, and the server goes on serving everyone else.

The guard below is plain ASGI (no per-request middleware objects): it checks the bearer token, counts the
requests and WebSockets in flight against the connection limit, refuses a body that says or turns out to be
too large while it is still arriving, and puts a time limit on each HTTP request.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GZIP_MAGIC = b"\x1f\x8b"
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})  # no token needed


class Refusal(Exception):
    """A request the server will not read: `status` is the HTTP status (4xx), `detail` says why (one
    line)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    @property
    def close_code(self) -> int:
        """The WebSocket close code: 4000 + the HTTP status (4400, 4401, 4413, ...)."""
        return 4000 + self.status


def ungzip(data: bytes, limit: int) -> bytes:
    """`data` inflated when it is gzip'd (the seed's client gzips its JPEGs), else as is.

    Inflation stops as soon as the output passes `limit`: a gzip bomb costs `limit` bytes, not its size."""
    if not data.startswith(GZIP_MAGIC):
        return data
    inflated = bytearray()
    rest = data
    while rest:  # a gzip file may hold several members
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            inflated += inflater.decompress(rest, limit + 1 - len(inflated))
        except zlib.error as error:
            raise Refusal(400, f"corrupt gzip data ({error})") from None
        if len(inflated) > limit:
            raise Refusal(413, f"the gzip'd image inflates to more than the {limit} bytes allowed")
        if not inflater.eof:
            raise Refusal(400, "truncated gzip data")
        rest = inflater.unused_data
    return bytes(inflated)


@dataclass
class Counters:
    """What the guard saw; /health reports it."""

    active: int = 0
    refused: int = 0


class Guard:
    """ASGI wrapper enforcing the token, the connection limit, the body limit and the request time limit."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body: int, max_connections: int,
                 timeout: float, counters: Counters) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body
        self.max_connections = max_connections
        self.timeout = timeout
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        refusal = self._admission(scope)
        if refusal is not None:
            self.counters.refused += 1
            if kind == "http":
                await send_refusal(send, refusal)
            else:
                await close_websocket(receive, send, refusal)
            return
        self.counters.active += 1
        try:
            if kind == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send)
        finally:
            self.counters.active -= 1

    def _admission(self, scope: Scope) -> Refusal | None:
        if self.token is not None and scope["path"] not in OPEN_PATHS and not self._authorized(scope):
            return Refusal(401, "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')")
        if self.counters.active >= self.max_connections:
            return Refusal(429, f"too many requests at once (the limit is {self.max_connections}); "
                                "retry shortly")
        if scope["type"] == "http":
            length = header(scope, b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                return Refusal(413, f"the request body is larger than the {self.max_body} bytes allowed")
        return None

    def _authorized(self, scope: Scope) -> bool:
        assert self.token is not None
        given = header(scope, b"authorization") or ""
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "bearer" and scope["type"] == "websocket":  # browsers cannot set its headers
            credentials = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise Refusal(413, f"the request body is larger than the {self.max_body} bytes allowed")
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, counted_receive, watched_send)
        except Refusal as refusal:
            if not started:
                await send_refusal(send, refusal)
        except TimeoutError:
            if not started:
                too_slow = f"the request took longer than the {self.timeout:g} s allowed"
                await send_refusal(send, Refusal(408, too_slow))


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def send_refusal(send: Send, refusal: Refusal) -> None:
    body = json.dumps({"detail": refusal.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if refusal.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def close_websocket(receive: Receive, send: Send, refusal: Refusal) -> None:
    """Accept, then close with the refusal's code and reason: a client sees why, not a bare 403."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": refusal.close_code,
                "reason": close_reason(refusal.detail)})


def close_reason(text: str) -> str:
    """A WebSocket close reason is at most 123 bytes of UTF-8."""
    return text.encode()[:123].decode(errors="ignore")
