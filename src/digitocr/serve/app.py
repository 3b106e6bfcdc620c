"""The HTTP and WebSocket app: POST /read, GET /health, GET /models, /docs, and the WebSocket at "/".

The WebSocket speaks the seed's protocol by default: each binary message (a gzip'd JPEG or PNG of the
screen) is answered with the reading as text. With `?mode=json` each frame is answered with the reading as
JSON, in order, numbered by `seq`, and a client may send frames ahead without waiting for the answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response, WebSocket
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect
from starlette.websockets import WebSocketDisconnect

from digitocr import __version__
from digitocr.profile import Profile
from digitocr.serve.batching import Batcher
from digitocr.serve.config import ServeConfig
from digitocr.serve.engine import Engine, Job, Plan, Result
from digitocr.serve.limits import (
    GZIP_MAGIC,
    ASGIApp,
    Counters,
    Guard,
    Receive,
    Refusal,
    Scope,
    Send,
    close_reason,
)

RAW_TYPES = frozenset({"", "application/octet-stream", "application/gzip", "application/x-gzip"})
IMAGE_BODY = {"schema": {"type": "string", "format": "binary"}}
READ_DOCS = {
    "requestBody": {"required": True, "content": {
        "image/png": IMAGE_BODY, "image/jpeg": IMAGE_BODY, "application/octet-stream": IMAGE_BODY,
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": IMAGE_BODY},
                                           "required": ["file"]}}}},
    "parameters": [
        {"name": "profile", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "read a whole screenshot with every region of this profile"},
        {"name": "format", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "the crop's format: int, signed, decimal:N, time, percent, re:REGEX"}],
}


class ReadingOut(BaseModel):
    """One reading (the fields a `Reading.to_dict()` gives)."""

    text: str
    confidence: float
    value: int | float | None = None
    status: str = "ok"
    reason: str = ""


class ScreenOut(BaseModel):
    profile: str
    regions: dict[str, ReadingOut]


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 404, 408, 413, 415, 422, 429)}


def create_app(engine: Engine) -> ASGIApp:
    """The app of one worker process, wrapped in its guard (token, limits)."""
    config = engine.config
    limits = config.limits
    counters = Counters()
    batcher: Batcher[Job] | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal batcher
        batcher = Batcher(engine.run, max_batch=config.max_batch, max_wait=config.batch_wait)
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="digitocr", version=__version__, lifespan=lifespan, description=(
        "Reads the numbers on a screen. POST a crop (or, with `?profile=NAME`, a whole screenshot) to /read. "
        "The WebSocket at / answers each binary message (gzip'd or plain JPEG/PNG) with the reading as text, "
        "or with `?mode=json` as JSON in order."))

    async def refused(_: Request, refusal: Exception) -> Response:
        assert isinstance(refusal, Refusal)
        headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
        return json_response({"detail": refusal.detail}, refusal.status, headers)

    app.add_exception_handler(Refusal, refused)

    async def read(job: Job) -> dict[str, Any]:
        assert batcher is not None
        result = await batcher.read(job)
        if isinstance(result, Refusal):
            raise result
        return result

    async def read_image(request: Request) -> Response:
        """Read one crop (raw image bytes or a multipart file; gzip'd or not), or with `?profile=NAME` a whole
        screenshot with every region of the profile."""
        query = request.query_params  # by hand, documented in READ_DOCS (see HotPath)
        profile = query.get("profile")
        plan = engine.screen_plan(profile) if profile is not None else engine.crop_plan(query.get("format"))
        data = await request_image(request, limits.max_body)
        return json_response(await read(Job(data, plan)))

    app.post("/read", response_model=None, openapi_extra=READ_DOCS,
             responses={200: {"model": ReadingOut | ScreenOut}, **ERRORS})(read_image)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and load: no token needed."""
        stats = batcher.stats.to_dict() if batcher else {}
        return {"status": "ok", "version": __version__, "pid": os.getpid(),
                "uptime_s": round(time.time() - engine.started, 1), "profiles": sorted(engine.profiles),
                "active": counters.active, "refused": counters.refused, **stats}

    @app.get("/models")
    async def models() -> dict[str, Any]:
        """The loaded models (with the metrics recorded when they were trained) and profiles."""
        return engine.describe()

    @app.websocket("/")
    async def stream(websocket: WebSocket, profile: str | None = None, mode: str = "text",
                     region: str | None = None, crop: bool = False) -> None:
        """Frames are whole screenshots read with `profile` (by default the first one served), or crops with
        `crop=true` (always on a server without profiles)."""
        await websocket.accept()
        try:
            name = profile or (engine.default_profile.name if engine.default_profile and not crop else None)
            plan = engine.screen_plan(name) if name is not None else engine.crop_plan()
            answer_region = websocket_region(plan.profile, region, mode)
        except Refusal as refusal:
            await websocket.close(refusal.close_code, close_reason(refusal.detail))
            return
        answers: asyncio.Queue[asyncio.Task[Result] | Refusal] = asyncio.Queue(limits.stream_window)
        receiving = asyncio.create_task(receive_frames(websocket, answers, plan))
        sending = asyncio.create_task(send_answers(websocket, answers, answer_region))
        try:
            await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
            if receiving.done() and not receiving.cancelled() and receiving.exception() is None:
                await sending  # the answers before the client broke the protocol, then the close
        finally:
            for task in (receiving, sending):
                task.cancel()
            await asyncio.gather(receiving, sending, return_exceptions=True)
            while not answers.empty():
                item = answers.get_nowait()
                if isinstance(item, asyncio.Task):
                    item.cancel()

    async def receive_frames(websocket: WebSocket, answers: asyncio.Queue[Any], plan: Plan) -> None:
        """Each binary message becomes a reading task, queued in arrival order (at most `stream_window` ahead
        of the answers); a text message is a refusal that ends the stream."""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            data = message.get("bytes")
            if data is None:
                await answers.put(Refusal(415, "expected a binary message: the image bytes (gzip'd or not)"))
                return
            await answers.put(asyncio.create_task(read_frame(Job(data, plan))))

    async def read_frame(job: Job) -> Result:
        try:
            async with asyncio.timeout(limits.timeout):
                return await read(job)
        except Refusal as refusal:
            return refusal
        except TimeoutError:
            return Refusal(408, f"reading the frame took longer than the {limits.timeout:g} s allowed")

    async def send_answers(websocket: WebSocket, answers: asyncio.Queue[Any], region: str | None) -> None:
        """Answers in the order the frames came: text (the seed's protocol: `region` is the region whose text
        is sent, "" for a crop) or, when `region` is None, JSON numbered by `seq`."""
        seq = 0
        while True:
            item = await answers.get()
            result = item if isinstance(item, Refusal) else await item
            if isinstance(result, Refusal) and (item is result or region is not None):
                # a protocol error, or a bad frame in text mode, where a close is the only way to say so
                await websocket.close(result.close_code, close_reason(result.detail))
                return
            if isinstance(result, Refusal):
                answer = {"seq": seq, "error": {"status": result.status, "detail": result.detail}}
                await websocket.send_text(json.dumps(answer))
            elif region is None:
                await websocket.send_text(json.dumps({"seq": seq, **result}))
            else:
                reading = result if region == "" else result["regions"][region]
                await websocket.send_text(reading["text"])
            seq += 1

    return Guard(HotPath(app, read_image), token=config.token, max_body=limits.max_body,
                 max_connections=limits.max_connections, timeout=limits.timeout, counters=counters)


class HotPath:
    """POST /read goes straight to its handler: FastAPI's middleware, routing and parameter solving cost more
    per request than reading a crop. The route stays registered with FastAPI, which documents it."""

    def __init__(self, app: ASGIApp, read: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.read = read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/read" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await self.read(Request(scope, receive))
        except ClientDisconnect:  # gone mid-request: nobody to answer
            return
        except Refusal as refusal:
            response = json_response({"detail": refusal.detail}, refusal.status)
        except MultiPartException as error:
            response = json_response({"detail": f"bad multipart form: {error.message}"}, 400)
        await response(scope, receive, send)


def websocket_region(profile: Profile | None, region: str | None, mode: str) -> str | None:
    """Which reading a text-mode answer carries: "" for a crop, a region's name (by default the profile's
    first, the seed's speed) for a screenshot; None in JSON mode, which answers everything."""
    if mode not in ("text", "json"):
        raise Refusal(400, f"mode is 'text' (the seed's protocol) or 'json', got {mode!r}")
    if region is not None and (profile is None or region not in profile.regions):
        raise Refusal(404, f"no region {region!r} to answer with" + (
            f" (the profile {profile.name!r} has {', '.join(profile.regions)})" if profile
            else " (no profile)"))
    if mode == "json":
        return None
    if profile is None:
        return ""
    return region or next(iter(profile.regions))


async def request_image(request: Request, max_body: int) -> bytes:
    """The image bytes of a POST: the raw body, or the file of a multipart form."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise Refusal(415, f"Content-Encoding {encoding!r} is not supported (send gzip or nothing)")
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=16, max_part_size=max_body)
        files = [value for value in form.values() if isinstance(value, UploadFile)]
        if not files:
            raise Refusal(400, "the multipart form has no file: send the image as a file field")
        data = await files[0].read()
    elif kind in RAW_TYPES or kind.startswith("image/"):
        data = await request.body()
    else:
        raise Refusal(415, f"cannot read a {kind} body: send the image bytes (image/png, image/jpeg, "
                           "application/octet-stream) or a multipart/form-data file")
    if not data:
        raise Refusal(400, "the request body is empty: send the image bytes")
    if encoding == "gzip" and not data.startswith(GZIP_MAGIC):
        raise Refusal(400, "Content-Encoding says gzip but the body is not gzip data")
    return data


def json_response(content: dict[str, Any], status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(content).encode(), status, headers, media_type="application/json")


def app_from_environment() -> ASGIApp:
    """The app of a spawned worker (`serve --workers N`): its settings come from the parent's environment."""
    return create_app(Engine(ServeConfig.from_environment()))
