"""The labelling page's server: FastAPI on 127.0.0.1, the folder's crops as PNG, one route per key.

The page does the waiting on its side (it shows the next crop at once and sends the change behind it), so
the server only has to be correct: every change goes through `LabelFolder`, which refuses what would clobber.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from digitocr.errors import UserError
from digitocr.images import encode_image, open_image
from digitocr.label.folder import Conflict, Crop, LabelFolder

HOST = "127.0.0.1"
PORTS_TRIED = 50


class Change(BaseModel):
    page: str
    id: int
    text: str = ""


def decode_crops(folder: LabelFolder, read: Callable[[Sequence[np.ndarray]], list] | None = None
                 ) -> dict[int, bytes]:
    """Every crop as PNG bytes for the page; undecodable ones get `error` instead, and with `read` (a reader's
    read_batch) every decodable one gets the model's reading and confidence."""
    pictures: dict[int, bytes] = {}
    pixels: dict[int, np.ndarray] = {}
    for crop in folder.crops:
        try:
            pixels[crop.id] = open_image(crop.path)
            pictures[crop.id] = encode_image(pixels[crop.id], ".png")
        except UserError as error:
            crop.error = str(error)
    if read is not None and pixels:
        for crop_id, reading in zip(pixels, read(list(pixels.values()))):
            folder.crops[crop_id].reading = reading.text
            folder.crops[crop_id].confidence = round(float(reading.confidence), 4)
    return pictures


def presentation_order(crops: Sequence[Crop]) -> list[Crop]:
    """Undecodable crops first (each needs a decision), then the least confident readings, then by name."""
    return sorted(crops, key=lambda c: (c.error is None, c.confidence if c.confidence is not None else 0.0,
                                        c.original.name))


def create_app(folder: LabelFolder, pictures: dict[int, bytes]) -> FastAPI:
    app = FastAPI(title="digitocr label", docs_url="/docs")
    page = resources.files("digitocr.label").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/api/state")
    def state() -> dict:
        """Claims the folder for the calling page (a new token) and lists what waits."""
        token = secrets.token_hex(8)
        folder.claim(token)
        return {"page": token, "folder": str(folder.folder), "store": folder.store,
                "charset": folder.rule.charset, "pattern": folder.rule.pattern,
                "format": folder.rule.format_name, "not_images": folder.not_images, "counts": folder.counts(),
                "crops": [c.to_dict() for c in presentation_order(folder.crops) if c.state == "waiting"]}

    @app.get("/api/image/{crop_id}")
    def image(crop_id: int) -> Response:
        if crop_id not in pictures:
            raise HTTPException(404, "no picture for that crop")
        return Response(pictures[crop_id], media_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400, immutable"})

    def act(action: Callable[[], Crop]) -> dict:
        try:
            crop = action()
        except Conflict as error:
            raise HTTPException(409, str(error)) from None
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        except KeyError:
            raise HTTPException(404, "no such crop") from None
        except OSError as error:
            raise HTTPException(500, f"could not change the folder: {error}") from None
        return {"crop": crop.to_dict(), "counts": folder.counts()}

    @app.post("/api/label")
    def label(change: Change) -> dict:
        return act(lambda: folder.label(change.page, change.id, change.text.strip()))

    @app.post("/api/unreadable")
    def unreadable(change: Change) -> dict:
        return act(lambda: folder.unreadable(change.page, change.id))

    @app.post("/api/undo")
    def undo(change: Change) -> dict:
        return act(lambda: folder.undo(change.page, change.id))

    return app


def bind_port(port: int, tries: int = PORTS_TRIED) -> socket.socket:
    """A listening socket on `port`, or on the next free one (the caller says which it got)."""
    for candidate in range(port, port + tries):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        return sock
    raise UserError(f"ports {port} to {port + tries - 1} are all in use: pass --port")


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Run until interrupted (Ctrl+C) on the already bound socket."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
