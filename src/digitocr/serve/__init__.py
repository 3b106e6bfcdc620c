"""`digitocr serve`: a reading server (FastAPI + uvicorn) with micro-batching and limits.

    from digitocr.serve import ServeConfig, serve
    serve(ServeConfig(profiles=("game.toml",)))      # http://127.0.0.1:8765, ws://127.0.0.1:8765

The modules: config (settings), limits (refusals, the guard), batching, engine (models, profiles and the
batch function), app (routes), server (uvicorn, workers). Clients live in `digitocr.client`. Names are
re-exported lazily, so the CLI's parser can read the defaults without loading the web stack.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {"Limits": "digitocr.serve.config", "ServeConfig": "digitocr.serve.config",
            "serve": "digitocr.serve.server"}
__all__ = ["Limits", "ServeConfig", "serve"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'digitocr.serve' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
