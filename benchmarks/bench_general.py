"""Zero-shot: the shipped general model (no training, no model argument) against the peers, per screen style.

    .venv/bin/python benchmarks/bench_general.py build        # draws the evaluation set with Chromium
    .bench/venv/bin/python benchmarks/bench_general.py run    # reads it with digitocr and the installed peers
    .venv/bin/python benchmarks/bench_general.py fit          # fit --from general (15 s) per display
    .venv/bin/python benchmarks/bench_general.py cost         # reading cost against tiny's
    (`run` in .venv reads with digitocr alone; `make bench-peers` makes .bench/venv)

The evaluation set is drawn in ways the general model's training never uses: pages rendered by a real
browser (Debian's `chromium`, headless screenshots), in the `fontpkg-*` families kept out of training
(`-ft evaluation`), with CSS glow, gradients, scanlines and letter-spacing, seven-segment digits and dot-matrix
LEDs drawn as SVG shapes of another design than synth/procedural.py's, small UI labels, and the same pages
shrunk and JPEG'd. Then the game's real crops from ../shared/real (never trained on). Labels are numbers as
screens show them, drawn with a seed of this script's own. Per style: Word Accuracy and Character Accuracy of
each engine, on the same decoded crops; at the end, the average over the styles and each engine's time per crop.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO / ".bench" / "general-eval"
REAL = REPO.parent / "shared" / "real"
CHARS = "0123456789.-:,%/"
PER_STYLE = 120
COLUMNS = 4
SEED = 4242

# Seven segments as the pages draw them: rounded bars, not synth/procedural.py's beveled polygons.
SEGMENTS = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd", "6": "afgedc",
            "7": "abc", "8": "abcdefg", "9": "abcdfg", "-": "g"}
# A 5x7 LED font drawn differently from the HD44780's (flat-topped 3, open 4, straight 7, 1 without base).
DOTS = {
    "0": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "1": ["00100", "01100", "10100", "00100", "00100", "00100", "00100"],
    "2": ["11110", "00001", "00001", "01110", "10000", "10000", "11111"],
    "3": ["11111", "00001", "00001", "01111", "00001", "00001", "11111"],
    "4": ["10001", "10001", "10001", "11111", "00001", "00001", "00001"],
    "5": ["11111", "10000", "10000", "11110", "00001", "00001", "11110"],
    "6": ["01111", "10000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00001", "00010", "00100", "00100", "00100"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00001", "11110"],
    "-": ["00000", "00000", "00000", "01110", "00000", "00000", "00000"],
    ".": ["0", "0", "0", "0", "0", "0", "1"],
    ":": ["0", "0", "1", "0", "1", "0", "0"],
}


# ------------------------------------------------------------------ labels

def label_for(style: str, rng: np.random.Generator) -> str:
    """A number as this style's screens show it (the formats a style can draw)."""
    kinds = {"lcd-7seg": ["int", "decimal", "signed", "time"], "led-7seg": ["int", "time", "decimal"],
             "dot-matrix": ["int", "time", "decimal", "signed"], "scoreboard": ["int", "time", "score"],
             }.get(style, ["int", "decimal", "thousands", "signed", "percent", "time", "ratio"])
    kind = kinds[int(rng.integers(len(kinds)))]
    digits = str(int(rng.integers(0, 10 ** int(rng.integers(1, 6)))))
    if kind == "decimal":
        return f"{int(rng.integers(0, 1000))}.{int(rng.integers(0, 100)):02d}"[: int(rng.integers(3, 7))].rstrip(".")
    if kind == "thousands":
        return f"{int(rng.integers(1000, 5_000_000)):,}"
    if kind == "signed":
        return f"-{int(rng.integers(1, 500))}"
    if kind == "percent":
        return f"{int(rng.integers(0, 101))}%"
    if kind == "time":
        return f"{int(rng.integers(0, 60))}:{int(rng.integers(0, 60)):02d}"
    if kind == "ratio":
        return f"{int(rng.integers(1, 100))}/{int(rng.integers(1, 100))}"
    if kind == "score":
        return f"{int(rng.integers(0, 20))}-{int(rng.integers(0, 20))}"
    return digits


# ------------------------------------------------------------------ pages

def _font_face(slug: str) -> str:
    from digitocr.synth.fonts import installed_families

    data = base64.b64encode(installed_families()[slug].primary.read_bytes()).decode("ascii")
    return f"@font-face {{ font-family: '{slug}'; src: url(data:font/ttf;base64,{data}); }}"


def _seven_segment_svg(text: str, height: float, color: str, unlit: str, slant: float) -> str:
    width, thickness = height * 0.55, height * 0.12
    bars = {"a": (thickness, 0, width - 2 * thickness, thickness), "g": (thickness, (height - thickness) / 2,
            width - 2 * thickness, thickness), "d": (thickness, height - thickness, width - 2 * thickness, thickness),
            "f": (0, thickness, thickness, height / 2 - 1.5 * thickness),
            "b": (width - thickness, thickness, thickness, height / 2 - 1.5 * thickness),
            "e": (0, height / 2 + thickness / 2, thickness, height / 2 - 1.5 * thickness),
            "c": (width - thickness, height / 2 + thickness / 2, thickness, height / 2 - 1.5 * thickness)}
    shapes, pen = [], 0.0
    for char in text:
        if char in ".:":
            dots = [height - thickness] if char == "." else [height * 0.3, height * 0.7]
            shapes += [f'<rect x="{pen:.1f}" y="{y - thickness / 2:.1f}" width="{thickness:.1f}" '
                       f'height="{thickness:.1f}" fill="{color}"/>' for y in dots]
            pen += thickness * 2.5
            continue
        lit = SEGMENTS[char]
        for name, (x, y, w, h) in bars.items():
            fill = color if name in lit else unlit
            if fill != "none":
                shapes.append(f'<rect x="{pen + x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                              f'rx="{thickness / 2:.1f}" fill="{fill}"/>')
        pen += width + thickness * 1.6
    return (f'<svg width="{pen:.0f}" height="{height:.0f}" style="transform: skewX({-slant}deg); overflow: visible">'
            + "".join(shapes) + "</svg>")


def _dot_matrix_svg(text: str, height: float, color: str, unlit: str) -> str:
    pitch = height / 7
    shapes, pen = [], 0.0
    for char in text:
        rows = DOTS[char]
        for row, line in enumerate(rows):
            for column, cell in enumerate(line):
                fill = color if cell == "1" else unlit
                if fill != "none":
                    shapes.append(f'<circle cx="{pen + (column + 0.5) * pitch:.1f}" cy="{(row + 0.5) * pitch:.1f}" '
                                  f'r="{pitch * 0.4:.1f}" fill="{fill}"/>')
        pen += (len(rows[0]) + 1) * pitch
    return f'<svg width="{pen:.0f}" height="{height:.0f}">' + "".join(shapes) + "</svg>"


def _style_cell(style: str, label: str, rng: np.random.Generator, fonts: list[str],
                italic: bool | None = None) -> tuple[str, str]:
    """(CSS of the cell, its inner HTML) for one label in one style (`italic`: always or never, where the style
    draws a share of its crops in italics)."""
    pick = fonts[int(rng.integers(len(fonts)))] if fonts else ""
    text = html.escape(label)
    if style == "lcd-7seg":
        return ("background: #a3ad8f;", _seven_segment_svg(label, float(rng.uniform(26, 44)), "#1b2116",
                                                            "rgba(0,0,0,0.08)" if rng.random() < 0.6 else "none",
                                                            float(rng.choice([0, 6, 10]))))
    if style == "led-7seg":
        color = ["#ff3b30", "#39ff6a", "#ffb000"][int(rng.integers(3))]
        svg = _seven_segment_svg(label, float(rng.uniform(24, 40)), color, "none", float(rng.choice([0, 8])))
        return ("background: #0b0b0b;", f'<span style="filter: drop-shadow(0 0 4px {color})">{svg}</span>')
    if style == "dot-matrix":
        color = ["#ffb000", "#ff4030", "#60ff60"][int(rng.integers(3))]
        return ("background: #120a04;", _dot_matrix_svg(label, float(rng.uniform(22, 36)), color,
                                                       "rgba(255,255,255,0.06)" if rng.random() < 0.5 else "none"))
    if style == "hud-glow":
        size = int(rng.integers(26, 40))
        return ("background: radial-gradient(circle, #17345c 0%, #050b18 90%);",
                (f'<span style="font-family: \'{pick}\'; font-size: {size}px; color: #8ff7ff; '
                f'text-shadow: 0 0 6px #35d0ff, 0 0 12px #35d0ff; '
                f'font-style: {"italic" if (rng.random() < 0.3 if italic is None else italic) else "normal"}; '
                f'letter-spacing: {int(rng.integers(0, 4))}px">{text}</span>'))
    if style == "terminal":
        size = int(rng.integers(16, 26))
        return (("background: #050a05; background-image: repeating-linear-gradient(0deg, rgba(0,0,0,0.45) 0 1px, "
                "transparent 1px 3px);"),
                (f'<span style="font-family: \'{pick}\'; font-size: {size}px; color: #45ff7a; '
                f'text-shadow: 0 0 3px #20c050; filter: blur(0.3px)">{text}</span>'))
    if style == "ui-small":
        size = int(rng.integers(11, 15))
        dark = rng.random() < 0.4
        return (f"background: {'#2b2d31' if dark else '#f4f5f7'};",
                (f'<span style="font-family: \'{pick}\'; font-size: {size}px; color: {"#dcddde" if dark else "#3c4043"}">'
                f"{text}</span>"))
    if style == "scoreboard":
        size = int(rng.integers(30, 46))
        return ("background: linear-gradient(180deg, #0d3b1e, #06200f);",
                (f'<span style="font-family: \'{pick}\'; font-size: {size}px; color: #ffe14d; '
                f'letter-spacing: {int(rng.integers(1, 6))}px; font-weight: 700">{text}</span>'))
    raise ValueError(style)


CHROMIUM_STYLES = ("lcd-7seg", "led-7seg", "dot-matrix", "hud-glow", "terminal", "ui-small", "scoreboard")
STYLE_FONTS = {"hud-glow": ["righteous", "kanit", "sora", "play", "titillium-web"],
               "terminal": ["ibm-plex-mono", "geist-mono"],
               "ui-small": ["lato", "dosis", "sora", "kanit", "titillium-web", "merriweather"],
               "scoreboard": ["bebas-neue", "fjalla-one", "saira-condensed"]}
CELL = {"ui-small": (140, 30)}  # width, height in CSS pixels; others (260, 64)
# Displays for `fit`: a screen draws its numbers in one face, so each is a style in one of its fonts (upright,
# or italic throughout), its sizes and spacing still varying; the segment and LED styles are one design already.
# Each display's crops come from a seed of its own.
DISPLAYS = {"hud-glow/kanit": ("hud-glow", "kanit", False), "hud-glow/play-italic": ("hud-glow", "play", True),
            "hud-glow/righteous": ("hud-glow", "righteous", False),
            "terminal/ibm-plex-mono": ("terminal", "ibm-plex-mono", None),
            "ui-small/lato": ("ui-small", "lato", None), "ui-small/titillium-web": ("ui-small", "titillium-web", None),
            "scoreboard/bebas-neue": ("scoreboard", "bebas-neue", None)}


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("chromium is not installed: `make setup-system` installs Debian's chromium")


def build_style(style: str, folder: Path, count: int, seed: int, font: str | None = None,
                italic: bool | None = None, stream: int | None = None) -> list[tuple[str, str]]:
    """Render one style's page with headless Chromium and cut it into labelled crops (in one `font` and
    `italic` setting, for a display, drawing from random `stream` rather than the style's own)."""
    from PIL import Image

    rng = np.random.default_rng([seed, CHROMIUM_STYLES.index(style) if stream is None else stream])
    fonts = [font] if font else STYLE_FONTS.get(style, [])
    width, height = CELL.get(style, (260, 64))
    labels = [label_for(style, rng) for _ in range(count)]
    if style in ("lcd-7seg", "led-7seg"):
        labels = [label.replace(",", "").replace("%", "").replace("/", "") or "0" for label in labels]
    rows = -(-count // COLUMNS)
    cells = []
    for index, label in enumerate(labels):
        css, inner = _style_cell(style, label, rng, fonts, italic)
        x, y = (index % COLUMNS) * width, (index // COLUMNS) * height
        cells.append(f'<div class="cell" style="left:{x}px; top:{y}px; {css}">{inner}</div>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><style>"
            + "".join(_font_face(slug) for slug in fonts)
            + f"body {{ margin: 0; background: #000; }} .cell {{ position: absolute; width: {width}px; "
            f"height: {height}px; display: flex; align-items: center; justify-content: center; "
            "overflow: hidden; }</style></head><body>" + "".join(cells) + "</body></html>")
    with tempfile.TemporaryDirectory() as scratch:
        page_path, shot = Path(scratch) / "page.html", Path(scratch) / "page.png"
        page_path.write_text(page, encoding="utf-8")
        subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--force-device-scale-factor=1", f"--window-size={COLUMNS * width},{rows * height}",
                        "--virtual-time-budget=4000", f"--screenshot={shot}", page_path.as_uri()],
                       check=True, capture_output=True, timeout=120)
        screenshot = Image.open(shot).convert("RGB")
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, label in enumerate(labels):
        x, y = (index % COLUMNS) * width, (index // COLUMNS) * height
        name = f"{index:04d}.png"
        screenshot.crop((x, y, x + width, y + height)).save(folder / name)
        entries.append((name, label))
    return entries


def shrink_and_jpeg(source: Path, folder: Path, entries: list[tuple[str, str]], seed: int) -> list[tuple[str, str]]:
    """The same crops as a stream or a remote desktop shows them: shrunk to 45-70 % and JPEG'd at 25-60."""
    from PIL import Image

    rng = np.random.default_rng([seed, 99])
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, label in entries:
        image = Image.open(source / name)
        factor = float(rng.uniform(0.45, 0.7))
        small = image.resize((max(8, round(image.width * factor)), max(8, round(image.height * factor))),
                             Image.Resampling.BILINEAR)
        jpeg_name = name.replace(".png", ".jpg")
        small.save(folder / jpeg_name, quality=int(rng.integers(25, 61)))
        out.append((jpeg_name, label))
    return out


def build(out: Path, count: int, seed: int) -> None:
    if out.exists():
        shutil.rmtree(out)
    for style in CHROMIUM_STYLES:
        entries = build_style(style, out / style, count, seed)
        _write_labels(out / style, entries)
        if style == "hud-glow":
            _write_labels(out / "hud-small-jpeg", shrink_and_jpeg(out / style, out / "hud-small-jpeg", entries, seed))
        print(f"{style}: {len(entries)} crops", flush=True)
    for number, (name, (style, font, italic)) in enumerate(DISPLAYS.items()):
        folder = out / "displays" / name
        entries = build_style(style, folder, count, seed, font, italic, stream=100 + number)
        _write_labels(folder, entries)
        print(f"display {name}: {len(entries)} crops", flush=True)


def _write_labels(folder: Path, entries: list[tuple[str, str]]) -> None:
    (folder / "labels.tsv").write_text("".join(f"{name}\t{label}\n" for name, label in entries), encoding="utf-8")


# ------------------------------------------------------------------ reading

def load_sets(out: Path) -> dict[str, list[tuple[np.ndarray, str]]]:
    from digitocr.images import open_image

    sets: dict[str, list[tuple[np.ndarray, str]]] = {}
    for labels in sorted(out.glob("*/labels.tsv")):
        pairs = [line.split("\t") for line in labels.read_text(encoding="utf-8").splitlines() if line]
        sets[labels.parent.name] = [(open_image(labels.parent / name), label) for name, label in pairs]
    real = []
    for folder in ("seed-refined", "seed-raw"):
        for path in sorted((REAL / folder).glob("*.png")):
            real.append((open_image(path), path.name.split("_")[0]))
    if real:
        sets["game (real crops)"] = real
    return sets


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels)


def _kept(text: str) -> str:
    return "".join(char for char in text if char in CHARS)


def _digitocr(model: Path | None) -> Callable[[list[np.ndarray]], list[str]]:
    from digitocr.reader import Reader

    reader = Reader(model)
    return lambda crops: [reading.text for reading in reader.read_batch(crops)]


def engines(compare: list[Path]) -> dict[str, Callable[[list[np.ndarray]], list[str]]]:
    """digitocr's general model (and the `compare` model folders), and each peer that is installed (with the
    same characters allowed)."""
    found: dict[str, Callable[[list[np.ndarray]], list[str]]] = {"digitocr general (onnx)": _digitocr(None)}
    found.update({f"digitocr {folder}": _digitocr(folder) for folder in compare})
    try:
        import easyocr

        sys.path.insert(0, str(Path(__file__).parent))
        from bench_peers import _easyocr_models

        easy = easyocr.Reader(["en"], gpu=False, detector=False, model_storage_directory=_easyocr_models(),
                              download_enabled=False, verbose=False)
        found["EasyOCR"] = lambda crops: [_kept("".join(easy.recognize(_rgb(c), allowlist=CHARS, detail=0)))
                                          for c in crops]
    except ImportError:
        pass
    try:
        from rapidocr_onnxruntime import RapidOCR

        rapid = RapidOCR()
        found["RapidOCR"] = lambda crops: [_kept(text) for text, _ in rapid.text_rec([_rgb(c)[:, :, ::-1]
                                                                                       for c in crops])[0]]
    except ImportError:
        pass
    try:
        import pytesseract

        pytesseract.get_tesseract_version()
        config = f"--psm 7 -c tessedit_char_whitelist={CHARS}"
        found["Tesseract"] = lambda crops: [_kept(pytesseract.image_to_string(_rgb(c), config=config))
                                            for c in crops]
    except (ImportError, OSError, RuntimeError):
        pass
    return found


def run(out: Path, json_path: Path | None, compare: list[Path]) -> None:
    from digitocr.metrics import character_accuracy, word_accuracy

    sets = load_sets(out)
    if not sets:
        raise SystemExit(f"no evaluation set in {out}: run `bench_general.py build` first")
    results: dict[str, dict[str, dict[str, float]]] = {}
    seconds: dict[str, float] = {}
    for name, read in engines(compare).items():
        read([sets[next(iter(sets))][0][0]])  # warm-up
        started = time.perf_counter()
        for style, items in sets.items():
            texts = read([image for image, _ in items])
            labels = [label for _, label in items]
            results.setdefault(style, {})[name] = {"wa": word_accuracy(texts, labels),
                                                  "ca": character_accuracy(texts, labels)}
        seconds[name] = (time.perf_counter() - started) / sum(len(items) for items in sets.values())
    names = list(seconds)
    print("| style | crops | " + " | ".join(names) + " |")
    print("| --- | --- |" + " --- |" * len(names))
    for style, row in results.items():
        print(f"| {style} | {len(sets[style])} | " + " | ".join(f"{row[n]['wa']:.3f}" for n in names) + " |")
    synthetic = [style for style in results if not style.startswith("game")]
    averages = {n: statistics.mean(results[s][n]["wa"] for s in synthetic) for n in names}
    print("| **average over the browser-drawn styles** | | " + " | ".join(f"**{averages[n]:.3f}**" for n in names)
          + " |")
    print("| worst browser-drawn style | | " + " | ".join(f"{min(results[s][n]['wa'] for s in synthetic):.3f}"
                                                       for n in names) + " |")
    print("| ms per crop (batched, this machine) | | " + " | ".join(f"{seconds[n] * 1e3:.2f}" for n in names) + " |")
    if json_path:
        json_path.write_text(json.dumps({"results": results, "average_wa": averages,
                                         "ms_per_crop": {n: s * 1e3 for n, s in seconds.items()}}, indent=2))


def fit_from_general(out: Path, styles: list[str], shots: int, json_path: Path | None) -> None:
    """`digitocr fit --from general` (15 s) on `shots` crops of each display (or whole style), then
    evaluated on its other crops; the game is fitted on seed-refined and held out on seed-raw.
    Wall time is the whole command's, Python's start included."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for style in styles:
            samples, holdout = Path(scratch) / style / "samples", Path(scratch) / style / "holdout"
            if style == "game":
                shutil.copytree(REAL / "seed-refined", samples, ignore=shutil.ignore_patterns("*.json", "test.*"))
                shutil.copytree(REAL / "seed-raw", holdout)
            else:
                source = out / style if (out / style / "labels.tsv").is_file() else out / "displays" / style
                pairs = [line.split("\t") for line in (source / "labels.tsv").read_text().splitlines() if line]
                for folder, chosen in ((samples, pairs[:shots]), (holdout, pairs[shots:])):
                    folder.mkdir(parents=True)
                    for name, _ in chosen:
                        shutil.copyfile(source / name, folder / name)
                    _write_labels(folder, chosen)  # labels.tsv: a label may hold '/', which no file name can
            run_dir = Path(scratch) / style / "run"
            started = time.perf_counter()
            charset = "0123456789" if style == "game" else CHARS
            done = subprocess.run([sys.executable, "-m", "digitocr", "fit", str(samples), "-o", str(run_dir),
                                   "--holdout", str(holdout), "--charset", charset, "--from", "general"],
                                  capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if done.returncode:
                rows.append({"display": style, "error": done.stderr.strip().splitlines()[-1:]})
                continue
            summary = json.loads((run_dir / "fit.json").read_text())
            rows.append({"display": style, "wall_s": round(wall, 1), "fit_s": summary["seconds"],
                         "wa": summary["word_accuracy"], "ca": summary["character_accuracy"],
                         "before_wa": (summary.get("before") or {}).get("word_accuracy"),
                         "holdout_crops": sum(1 for path in holdout.iterdir() if path.name != "labels.tsv")})
            print(json.dumps(rows[-1]), flush=True)
    if json_path:
        json_path.write_text(json.dumps(rows, indent=2))


def reading_cost(repeats: int = 5) -> None:
    """The shipped model's network against `tiny`'s on 32x100 crops, one thread, best of `repeats` rounds
    (torch, rearranged for inference as readers run it): the issue allows at most twice tiny's cost."""
    import torch

    from digitocr.models import build_model, optimize_for_inference
    from digitocr.pretrained import default_model_dir

    meta = json.loads((default_model_dir() / "model.json").read_text())
    options = {key: value for key, value in meta["architecture_options"].items() if key != "height"}
    classes = len(meta["charset"]) + 1
    networks = {"tiny": build_model("tiny", classes), "general": build_model(meta["architecture"], classes, **options)}
    networks = {name: optimize_for_inference(network) for name, network in networks.items()}
    torch.set_num_threads(1)
    best: dict[tuple[str, int], float] = {}
    with torch.inference_mode():
        for _ in range(repeats):
            for name, network in networks.items():
                for batch, calls in ((1, 200), (32, 20)):
                    crops = torch.rand(batch, 1, 32, 100).contiguous(memory_format=torch.channels_last)
                    network(crops)
                    started = time.perf_counter()
                    for _ in range(calls):
                        network(crops)
                    elapsed = (time.perf_counter() - started) / calls * 1e3
                    best[(name, batch)] = min(best.get((name, batch), math.inf), elapsed)
    for batch in (1, 32):
        print(f"{batch} crop(s): tiny {best[('tiny', batch)]:.2f} ms, general {best[('general', batch)]:.2f} ms, "
              f"{best[('general', batch)] / best[('tiny', batch)]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "run", "fit", "cost"))
    parser.add_argument("--out", type=Path, default=EVAL_DIR, help="evaluation set folder (.bench/general-eval)")
    parser.add_argument("--count", type=int, default=PER_STYLE, help=f"crops per style ({PER_STYLE})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--displays", default=",".join(["game", *DISPLAYS, "lcd-7seg", "led-7seg", "dot-matrix"]),
                        help="fit: displays to fit on: game (../shared/real), a display of DISPLAYS, or a whole "
                             "style (several fonts; default: the game, every display, the segment and LED styles)")
    parser.add_argument("--shots", type=int, default=6, help="fit: labelled crops given to fit (6)")
    parser.add_argument("--compare", type=Path, nargs="*", default=[],
                        help="run: other model folders, read alongside the shipped one (a column each)")
    args = parser.parse_args()
    if args.action == "build":
        build(args.out, args.count, args.seed)
    elif args.action == "cost":
        reading_cost()
    elif args.action == "fit":
        fit_from_general(args.out, args.displays.split(","), args.shots, args.json)
    else:
        run(args.out, args.json, args.compare)


if __name__ == "__main__":
    main()
