"""Glyph bitmaps kept on disk between processes.

A font's first glyph at a new size or weight costs FreeType about 0.4 ms (the font's hinting program
runs for that size), so a fresh process drawing 20 fonts at 11 weights spent more time setting fonts
up than drawing its first thousand images; `digitocr generate`'s workers and each training run's
data worker are fresh processes. The bitmaps depend only on the font file and the Pillow and
FreeType versions, so each (font file, size, weight) set is kept in a small file under
`$XDG_CACHE_HOME/digitocr/glyphs` (`DIGITOCR_GLYPH_CACHE=DIR` moves it, `=off` turns it off), and
later processes read it instead. The files hold JSON and raw pixels (nothing is unpickled); a file
that cannot be read or written only costs the time the cache would have saved.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import PIL
from PIL import ImageFont

from digitocr.files import write_atomically

FORMAT = 1  # bump when the stored fields or their meaning change
SETTING = "DIGITOCR_GLYPH_CACHE"


StoredGlyph = tuple[np.ndarray, int, int, float]  # ink-tight mask, left and top from the pen, advance


def cache_folder() -> Path | None:
    """Where glyph sets are kept; None when the cache is turned off."""
    setting = os.environ.get(SETTING)
    if setting is not None:
        return None if setting.strip().lower() in ("", "off", "0", "no") else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitocr" / "glyphs"


class GlyphCache:
    """The stored glyph sets of one font file: one file per (size, weight), with the line height."""

    def __init__(self, font_path: Path) -> None:
        folder = cache_folder()
        self.folder: Path | None = None
        self._folder_made = False
        if folder is not None:
            try:
                stat = font_path.stat()
            except OSError:
                return
            identity = (f"{FORMAT}|{font_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{PIL.__version__}|"
                        f"{ImageFont.core.freetype2_version}")
            digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:20]
            self.folder = folder / f"{font_path.stem[:40]}-{digest}"

    def _file(self, size: int, weight: float | None) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"{size}-{'default' if weight is None else f'{weight:g}'}.glyphs"

    def load(self, size: int, weight: float | None) -> tuple[int | None, dict[str, StoredGlyph]]:
        """(line height, glyphs by character) stored for this size and weight; (None, {}) if none."""
        path = self._file(size, weight)
        if path is None:
            return None, {}
        try:
            header, _, pixels = path.read_bytes().partition(b"\n")
            stored = json.loads(header)
            glyphs: dict[str, StoredGlyph] = {}
            offset = 0
            for char, height, width, left, top, advance in stored["glyphs"]:
                size = height * width
                mask = (np.frombuffer(pixels, np.uint8, size, offset).reshape(height, width) if size
                        else np.zeros((height, width), np.uint8))
                glyphs[char] = (mask, int(left), int(top), float(advance))
                offset += size
            if offset != len(pixels):
                raise ValueError("pixel count does not match")
            return int(stored["line_height"]), glyphs
        except (OSError, ValueError, KeyError, TypeError):  # absent, truncated or from elsewhere: draw again
            return None, {}

    def save(self, size: int, weight: float | None, line_height: int, glyphs: dict[str, StoredGlyph]) -> None:
        """Store a glyph set (atomically: readers see the old file or the new one)."""
        path = self._file(size, weight)
        if path is None:
            return
        entries = [[char, *mask.shape, left, top, advance] for char, (mask, left, top, advance) in glyphs.items()]
        header = json.dumps({"line_height": line_height, "glyphs": entries}, separators=(",", ":"))
        data = b"".join([header.encode("utf-8"), b"\n", *(mask.tobytes() for mask, *_ in glyphs.values())])
        try:
            if not self._folder_made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._folder_made = True
            write_atomically(path, data)
        except OSError:
            pass  # a read-only or full disk only loses the speed-up
