"""Where glyphs come from: installed font packages, font files and folders, and glyph banks.

Every source implements `GlyphSource`, so the generator draws text the same way whether the shapes
come from a TrueType font or from glyphs cut out of real screen crops (`bank:PATH`). A font that lacks
a character of the charset is skipped with a warning, so nothing is ever drawn as a box: a character
counts as missing when it draws as the font's .notdef glyph (what FreeType draws for characters absent
from the character map) or draws no ink.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitocr.errors import UserError
from digitocr.synth.families import FONT_SETS, require_installed
from digitocr.synth.glyph_source import GlyphSource, compose_glyphs
from digitocr.synth.glyphcache import GlyphCache

FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc"})
FONT_PACKAGE_GROUP = "fontpkg.family"
# Families whose digits differ in shape: geometric/HUD, monospace, condensed, rounded, sans, serif, pixel.
DEFAULT_FAMILIES = (
    "orbitron", "exo-2", "rajdhani", "saira", "chakra-petch", "share-tech", "roboto-mono",
    "jetbrains-mono", "space-mono", "barlow-condensed", "oswald", "teko", "varela-round", "comfortaa",
    "roboto", "inter", "pt-serif", "roboto-slab", "press-start-2p", "russo-one", "black-ops-one",
)
# Installed but never trained on by default, so an evaluation on them measures unseen shapes.
HELDOUT_FAMILIES = ("play", "titillium-web", "ibm-plex-mono", "bebas-neue")
LIST_FONTS_HINT = "`digitocr fonts` lists the installed ones"
BANK_PREFIX = "bank:"
_WEIGHT_STEP = 50.0  # variable-font weights are drawn on this grid so glyph caches stay small
_PROBE_SIZE = 24  # point size at which glyphs are compared with .notdef
_UNMAPPED = "\uffff"  # a noncharacter: no font maps it, so it draws as .notdef


@dataclass(frozen=True)
class InstalledFamily:
    """A font family installed as a `fontpkg-*` Python package."""

    slug: str
    family: str
    files: tuple[Path, ...]

    @property
    def primary(self) -> Path:
        """The upright file nearest to regular weight (variable fonts cover every weight)."""
        return self.files[0]


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _package_root(entry: EntryPoint) -> Path:
    """A font package's folder, found without importing it where its distribution says where it is
    (importing some 160 font packages was a tenth of `digitocr generate`'s start-up)."""
    module = entry.value.split(":")[0]
    if entry.dist is not None and "." not in module:
        root = Path(str(entry.dist.locate_file(module)))
        if (root / "metadata.json").is_file():
            return root
    return Path(importlib.import_module(module).ROOT)


@cache
def installed_families() -> dict[str, InstalledFamily]:
    """Installed font packages by slug, found through the `fontpkg.family` entry-point group."""
    families: dict[str, InstalledFamily] = {}
    for entry in entry_points(group=FONT_PACKAGE_GROUP):
        try:
            root = _package_root(entry)
            metadata = json.loads((root / "metadata.json").read_text(encoding="utf-8"))
        except (ImportError, AttributeError, OSError, ValueError):
            continue  # a broken font package must not break the generator

        def preference(item: dict) -> tuple[int, int, float]:
            weight = item.get("weight")
            distance = 0.0 if weight is None else abs(float(weight) - 400.0)
            return (item.get("style") != "normal", not item.get("variable", False), distance)

        files = tuple(root / item["path"] for item in sorted(metadata.get("files", []), key=preference))
        files = tuple(path for path in files if path.is_file())
        if files:
            slug = metadata.get("slug") or entry.name.replace("_", "-")
            families[slug] = InstalledFamily(slug, metadata.get("family", slug), files)
    return dict(sorted(families.items()))


def find_family(name: str) -> InstalledFamily | None:
    """An installed family by slug or display name, ignoring case, spaces, dashes and underscores."""
    wanted = _normalise(name)
    for family in installed_families().values():
        if wanted in (_normalise(family.slug), _normalise(family.family)):
            return family
    return None


@dataclass
class _Glyph:
    mask: np.ndarray  # ink only, uint8
    left: int  # ink's left edge relative to the pen position
    top: int  # ink's top edge relative to the line box top (may be negative)
    advance: float

    def signature(self) -> tuple | None:
        """What the glyph looks like, to compare with .notdef; None when it has no ink."""
        if self.mask.size == 0:
            return None
        return self.mask.shape, self.left, self.top, self.advance, self.mask.tobytes()


class FontFile:
    """A TrueType/OpenType font file; variable fonts get a random weight per rendering for variety."""

    def __init__(self, path: str | Path, name: str | None = None,
                 weight_range: tuple[float, float] = (300.0, 800.0)) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.weight_range = weight_range
        self._fonts: dict[tuple[int, float | None], ImageFont.FreeTypeFont] = {}
        self._glyphs: dict[tuple[int, float | None], dict[str, _Glyph]] = {}
        self._line_heights: dict[tuple[int, float | None], int] = {}
        self._chars: set[str] = set()  # every character drawn so far: a glyph set is drawn (and stored) whole
        self._cache = GlyphCache(self.path)
        self._unsaved: set[tuple[int, float | None]] = set()
        self._size_per_pixel: float | None = None
        self._weights: list[float] | None = None

    def __repr__(self) -> str:
        return f"FontFile({str(self.path)!r}, name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FontFile) and (self.path, self.name) == (other.path, other.name)

    def __hash__(self) -> int:
        return hash((self.path, self.name))

    def __getstate__(self) -> dict:
        """Pickle only the description: FreeType objects do not pickle and rebuild fast."""
        return {"path": self.path, "name": self.name, "weight_range": self.weight_range}

    def __setstate__(self, state: dict) -> None:
        FontFile.__init__(self, state["path"], state["name"], state["weight_range"])

    def missing(self, chars: str) -> set[str]:
        """Characters drawn as the font's .notdef glyph (not in its character map) or as nothing."""
        glyphs = self._glyph_set(_PROBE_SIZE, None)
        notdef = self._glyph(glyphs, _PROBE_SIZE, None, _UNMAPPED).signature()
        absent = {char for char in set(chars) if not char.isspace()
                  and self._glyph(glyphs, _PROBE_SIZE, None, char).signature() in (notdef, None)}
        self._save_new_glyphs()
        return absent

    def _weight_grid(self) -> Sequence[float | None]:
        """Weights this font can be drawn at: a grid over its `wght` axis, or [None] for a static font."""
        if self._weights is None:
            try:
                axes = self._font(24, None).get_variation_axes()
            except OSError:  # a static font has no variation axes
                axes = []
            weight_axis = next((axis for axis in axes if axis["name"] in (b"Weight", "Weight")), None)
            if weight_axis is None:
                self._weights = []
            else:
                font_low, font_high = float(weight_axis["minimum"] or 0), float(weight_axis["maximum"] or 0)
                low, high = max(font_low, self.weight_range[0]), min(font_high, self.weight_range[1])
                if low > high:  # the ranges do not overlap: the font's weight nearest to the wanted ones
                    low = high = min(max(self.weight_range[0], font_low), font_high)
                self._weights = [float(w) for w in np.arange(low, high + 1e-6, _WEIGHT_STEP)] or [low]
        return self._weights or [None]

    def _font(self, size: int, weight: float | None) -> ImageFont.FreeTypeFont:
        key = (size, weight)
        font = self._fonts.get(key)
        if font is None:
            try:
                font = ImageFont.truetype(str(self.path), size, layout_engine=ImageFont.Layout.BASIC)
            except OSError as error:
                raise UserError(f"cannot open font {self.path}: {error}") from error
            if weight is not None:
                axes = font.get_variation_axes()
                font.set_variation_by_axes([
                    weight if axis["name"] in (b"Weight", "Weight") else float(axis["default"] or 0) for axis in axes
                ])
            self._fonts[key] = font
        return font

    def _size_for_height(self, height: int) -> int:
        """The point size whose line box (ascent + descent) is `height` pixels."""
        if self._size_per_pixel is None:
            ascent, descent = self._font(100, None).getmetrics()
            self._size_per_pixel = 100.0 / max(1, ascent + descent)
        return max(4, round(height * self._size_per_pixel))

    def _glyph_set(self, size: int, weight: float | None) -> dict[str, _Glyph]:
        glyphs = self._glyphs.get((size, weight))
        if glyphs is None:
            line_height, stored = self._cache.load(size, weight)
            glyphs = self._glyphs[(size, weight)] = {char: _Glyph(*glyph) for char, glyph in stored.items()}
            if line_height is not None:
                self._line_heights[(size, weight)] = line_height
        return glyphs

    def _line_height(self, size: int, weight: float | None) -> int:
        """Ascent + descent, the line box (stored with the glyphs: asking FreeType sets the font up)."""
        height = self._line_heights.get((size, weight))
        if height is None:
            ascent, descent = self._font(size, weight).getmetrics()
            height = self._line_heights[(size, weight)] = ascent + descent
        return height

    def _glyph(self, glyphs: dict[str, _Glyph], size: int, weight: float | None, char: str) -> _Glyph:
        glyph = glyphs.get(char)
        if glyph is None:
            if char != _UNMAPPED:
                self._chars.add(char)
            for other in self._chars - glyphs.keys() - {char}:  # the font is set up now: draw the set whole
                glyphs[other] = self._draw(size, weight, other)
            glyph = glyphs[char] = self._draw(size, weight, char)
            self._unsaved.add((size, weight))
        return glyph

    def _save_new_glyphs(self) -> None:
        """Store the glyph sets that gained glyphs (once per drawing, not once per glyph)."""
        for size, weight in self._unsaved:
            self._cache.save(size, weight, self._line_height(size, weight), {
                char: (glyph.mask, glyph.left, glyph.top, glyph.advance)
                for char, glyph in self._glyphs[(size, weight)].items()})
        self._unsaved.clear()

    def _draw(self, size: int, weight: float | None, char: str) -> _Glyph:
        font = self._font(size, weight)
        advance = font.getlength(char)
        # The glyph's own bitmap, as ImageDraw.text would paste it at a whole-pixel pen position,
        # without drawing it onto a padded canvas first (a third of a glyph's cost).
        bitmap, (x, y) = font.getmask2(char, "L", anchor="la")
        ink = bitmap.getbbox()
        if ink is None:
            return _Glyph(np.zeros((0, 0), np.uint8), 0, 0, advance)
        left, top, right, bottom = ink
        mask = np.asarray(Image.Image()._new(bitmap))[top:bottom, left:right].copy()
        return _Glyph(mask, x + left, y + top, advance)

    def render(self, text: str, height: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
        weights = self._weight_grid()
        weight = weights[int(rng.integers(len(weights)))] if len(weights) > 1 else weights[0]
        size = self._size_for_height(height)
        glyphs = self._glyph_set(size, weight)
        placed: list[tuple[_Glyph, int]] = []
        pen = 0.0
        for char in text:
            glyph = self._glyph(glyphs, size, weight, char)
            if glyph.mask.size:
                placed.append((glyph, round(pen) + glyph.left))
            pen += glyph.advance + spacing
        if self._unsaved:
            self._save_new_glyphs()
        return compose_glyphs([(glyph.mask, x, glyph.top) for glyph, x in placed], self._line_height(size, weight))


def family_fonts(slugs: Iterable[str]) -> list[FontFile]:
    """FontFiles for the installed families among `slugs` (absent packages are left out)."""
    families = installed_families()
    return [FontFile(families[slug].primary, name=slug) for slug in slugs if slug in families]


def default_fonts() -> list[FontFile]:
    """The training set: about 20 installed families whose digits differ in shape."""
    return family_fonts(DEFAULT_FAMILIES)


def heldout_fonts() -> list[FontFile]:
    """Installed families kept out of the default set, for evaluation on unseen shapes."""
    return family_fonts(HELDOUT_FAMILIES)


def fonts_in_folder(folder: Path) -> list[FontFile]:
    """Every font file under `folder`, in a stable order."""
    return [FontFile(path) for path in sorted(folder.rglob("*"))
            if path.suffix.lower() in FONT_SUFFIXES and path.is_file()]


def _sources_for_spec(spec: str) -> list[GlyphSource]:
    if spec.startswith(BANK_PREFIX):
        from digitocr.synth.glyphs import load_bank  # owned by the fitting pipeline; only needed here

        return [load_bank(Path(spec[len(BANK_PREFIX):]).expanduser())]
    path = Path(spec).expanduser()
    if path.is_dir():
        fonts = fonts_in_folder(path)
        if not fonts:
            raise UserError(f"no font files ({', '.join(sorted(FONT_SUFFIXES))}) in folder {spec}")
        return list(fonts)
    if path.is_file():
        if path.suffix.lower() not in FONT_SUFFIXES:
            raise UserError(f"{spec} is not a font file (expected {', '.join(sorted(FONT_SUFFIXES))})")
        return [FontFile(path)]
    from digitocr.synth.procedural import procedural_sources

    procedural = procedural_sources(spec)
    if procedural is not None:
        return procedural
    if spec in ("default", "heldout"):
        return list(default_fonts() if spec == "default" else heldout_fonts())
    if spec in FONT_SETS:  # the general model's training and evaluation families
        return list(family_fonts(require_installed(spec, installed_families())))
    family = find_family(spec)
    if family is None:
        raise UserError(f"unknown font {spec!r}: not a font file, a folder or an installed family; "
                        f"{LIST_FONTS_HINT}")
    return [FontFile(family.primary, name=family.slug)]


def resolve_fonts(specs: list[str], charset: str,
                  warn: Callable[[str], None]) -> list[GlyphSource]:
    """Glyph sources for font specs (file, folder, installed family, `default`, `heldout`, `general`,
    `evaluation`, `bank:PATH`,
    procedural `seg7`/`seg14`/`dotmatrix`/`pixel`/`procedural`/`dotfonts`/`squared`);
    no specs means the default set. Sources lacking a character of `charset` are skipped with `warn`."""
    candidates: list[GlyphSource] = []
    for spec in specs or ["default"]:
        for source in _sources_for_spec(spec):
            if source not in candidates:
                candidates.append(source)
    usable: list[GlyphSource] = []
    for source in candidates:
        absent = source.missing(charset)
        if absent:
            warn(f"skipping font {source.name}: it has no glyph for {' '.join(sorted(absent))}")
        else:
            usable.append(source)
    if not usable:
        raise UserError(f"no font can draw every character of {charset!r}; {LIST_FONTS_HINT}")
    return usable


def specimen(sources: Sequence[GlyphSource], text: str = "0123456789", height: int = 40) -> Image.Image:
    """One row per source: its name, then `text` drawn with it (dark on white), for choosing fonts."""
    if not sources:
        raise UserError("no fonts to show")
    label_font = ImageFont.load_default()
    name_width = 8 + max(int(label_font.getlength(source.name)) for source in sources)
    rng = np.random.default_rng(0)
    masks = [source.render(text, height, 0.0, rng) for source in sources]
    row_height = max(mask.shape[0] for mask in masks) + 8
    width = name_width + max(mask.shape[1] for mask in masks) + 8
    sheet = Image.new("L", (width, row_height * len(sources)), 255)
    draw = ImageDraw.Draw(sheet)
    for row, (source, mask) in enumerate(zip(sources, masks)):
        top = row * row_height
        draw.text((4, top + row_height // 2), source.name, fill=0, font=label_font, anchor="lm")
        sheet.paste(Image.fromarray(255 - mask), (name_width, top + 4))
    return sheet
