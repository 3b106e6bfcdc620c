"""Few-shot fitting: from a handful of labelled crops of one display to a model that reads it.

The crops are cut into a glyph bank (the display's own characters), the installed fonts are ranked
against it (the best ones fill characters the crops lack and add variety), the bank's measured
style sets the ranges of a synthetic stream (size, stroke, spacing, colours, blur, threshold, both
polarities, JPEG), and the network (`tiny` from random weights, or the starting model's) trains on that
stream plus the real crops, within a time limit.
The pieces are chosen so the model learns the glyphs, not the crops: every property a crop shows
is varied around its measured value.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from digitocr.charset import DIGITS, Charset
from digitocr.data import (
    Augment,
    DataSpec,
    FolderSource,
    LabelledImages,
    SyntheticStream,
    load_labelled,
    prepare_data,
)
from digitocr.errors import UserError
from digitocr.evaluate import EvalReport, evaluate
from digitocr.files import removed_on_failure, write_text_atomically
from digitocr.images import save_image
from digitocr.labels import LABELS_FILE, write_labels_tsv
from digitocr.metrics import character_accuracy, word_accuracy
from digitocr.modelio import read_meta
from digitocr.preprocess import Preprocess
from digitocr.pretrained import default_model_dir
from digitocr.reader import Reader
from digitocr.report import write_fit_report
from digitocr.synth.families import FONT_SETS
from digitocr.synth.fonts import (
    BANK_PREFIX,
    FontFile,
    GlyphSource,
    default_fonts,
    find_family,
    heldout_fonts,
    installed_families,
    resolve_fonts,
)
from digitocr.synth.generate import TextImageGenerator
from digitocr.synth.glyphs import BankStyle, GlyphBank, LabelledCrop, build_bank, read_labelled_folder
from digitocr.synth.matching import FontMatch, fill_missing, rank_fonts, without_suspicious
from digitocr.synth.options import GeneratorConfig
from digitocr.train import TrainConfig, TrainProgress, train

GENERAL, SCRATCH = "general", "scratch"  # where a fit starts: the shipped general model, or random weights
TIME_LIMITS = {GENERAL: 15.0, SCRATCH: 180.0}  # a fit's default seconds by where it starts...
OTHER_START_TIME_LIMIT = 45.0  # ... and from another model, or an earlier fit
MIN_USABLE_CROPS = 2
SPLIT_HOLDOUT_FROM = 20  # with this many crops or more, a fifth is held out for evaluation
MATCHED_FONTS = 3  # best-matching fonts that join the training mix
SYNTHETIC_CHECK_SIZE = 200  # bank renders evaluated when no real crops are held out
RESERVE_SECONDS = 12.0  # of the time limit, kept for evaluation and the report
RESERVE_SHARE = 0.2  # ... but no more than this share of it (a 15 s fine-tuning of the general model: before
# training, torch's first optimizer imports its compiler, 0.9 s; after it, the evaluation of the fitted and the
# starting model and the report take 0.3 s, the process's exit 0.6 s)
MIN_TRAINING_SECONDS = 3.0
SHORT_TRAINING_SECONDS = 30.0  # shorter trainings make their batches in-process and draw no curves
VALIDATION_SIZE = 240  # synthetic crops (plus the real ones) validated on after each epoch
BATCH_SIZE = 32  # small batches: more steps in a short time limit, which matters more here
STROKE_JITTER = 0.25  # bank glyphs come out up to this much thinner or bolder (see StrokeJitter)
CONTINUE_LR = 1e-3  # continuing from a fitted model: adjust it, do not shake it loose


@dataclass(frozen=True)
class FitProgress:
    """A stage of the pipeline finished (`stage`, one line), or a training epoch ended (`metrics`)."""

    stage: str
    message: str
    metrics: dict[str, float] | None = None


@dataclass
class FitResult:
    """What fit made and measured; `evaluated_on` says which crops the accuracy comes from."""

    run_dir: Path
    model_dir: Path
    report_path: Path
    bank: GlyphBank
    matches: list[FontMatch]
    character_accuracy: float
    word_accuracy: float
    evaluated_on: str
    evaluations: dict[str, dict] = field(default_factory=dict)  # name -> EvalReport.to_mapping()
    seconds: float = 0.0
    before: dict[str, float] | None = None  # continuing: the starting model on the same crops


@dataclass(frozen=True)
class Continuation:
    """Where a fit starts from: a model's weights and, resuming an earlier fit, its crops and holdout, so
    the new crops add to the old and before and after are measured on the same holdout."""

    model_dir: Path
    samples: tuple[Path, ...] = ()
    holdout: Path | None = None

    @classmethod
    def of_run(cls, run_dir: Path | str) -> Continuation:
        """An earlier fit's run folder: its best model, its samples, its holdout."""
        run_dir = Path(run_dir)
        try:
            summary = json.loads((run_dir / "fit.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise UserError(f"{run_dir} is not a fit run (no readable fit.json): give --from MODEL") from None
        samples = tuple(Path(folder) for folder in (*summary.get("continued", []), summary["samples"])
                        if Path(folder).is_dir())
        holdout = summary.get("holdout")
        return cls(run_dir / "best", samples, Path(holdout) if holdout else None)


def synthetic_configs(style: BankStyle, charset: str, seed: int) -> dict[str, GeneratorConfig]:
    """Generator options around the measured style: clean, refined-looking and degraded variants.

    Text height spans 0.8-1.6 of the real glyph height (pixelation as in the crops, and some
    margin), spacing and stroke vary around the measured ones, and every variant takes both
    polarities or the crops' own colours, so nothing but the glyph shapes stays constant.
    """
    glyph = max(8.0, style.glyph_height)
    height = max(16, round(2.0 * glyph))
    room = 1.6 * glyph
    margin = max(1, round((height - room) / 2))
    # As soft as the crops' edges, but never so soft that a stroke melts into its neighbour: glow,
    # JPEG ringing and scanlines widen the measured edges well beyond what a blur should copy.
    blur = max(0.5, min(1.5 * style.edge_width, 0.5 * style.stroke_width + 0.3))
    base = GeneratorConfig(
        charset=charset, length=(1, 5), height=height, margins=(margin, 2, margin, 2), fit=True,
        skew=(-1.5, 1.5), spacing=(-0.1 * glyph, 0.25 * glyph), scale=(0.5, 1.0), stretch=(0.9, 1.12),
        padding=(0.0, 0.6), subpixel_offset=0.5, background="noise", image_mode="L", seed=seed,
    )
    ink, background = _hex(style.ink_rgb), _hex(style.background_rgb)
    return {
        "bank (crop colours)": replace(base, text_color=(ink, ink), background_color=(background, background),
                                       blur=(0.0, blur)),
        # High contrast and a threshold near the middle: a thresholded stroke never vanishes.
        "bank (thresholded)": replace(base, text_color=("#000000", "#282828"),
                                      background_color=("#d8d8d8", "#ffffff"), background="plain",
                                      light_on_dark=0.5, blur=(0.0, blur), threshold=(100, 155)),
        "bank (degraded)": replace(base, text_color=("#000000", "#505050"),
                                   background_color=("#a8a8a8", "#ffffff"), light_on_dark=0.5,
                                   blur=(0.2, blur + 0.3), jpeg_quality=(30, 90), scale=(0.5, 0.9)),
        "matched fonts": replace(base, text_color=("#000000", "#606060"),
                                 background_color=("#a0a0a0", "#ffffff"), light_on_dark=0.5,
                                 blur=(0.0, blur + 0.2)),
    }


SOURCE_WEIGHTS = {"bank (crop colours)": 0.3, "bank (thresholded)": 0.25, "bank (degraded)": 0.15,
                  "matched fonts": 0.15, "real crops": 0.15}
# Continuing from a model (the general one): a share of screens like its training's (its font families, every
# screen effect), so a fit does not unlearn what the display's few crops do not show, such as a point beside a
# comma.
REHEARSAL = "screens (general fonts)"
REHEARSAL_WEIGHT = 0.15


def rehearsal_config(charset: str, seed: int) -> GeneratorConfig:
    """Generator options for the rehearsal stream: the general recipe's fonts and effects, both polarities."""
    installed = installed_families()  # the fonts extra has the recipe's families; else the default set
    fonts = ("general",) if all(family in installed for family in FONT_SETS["general"]) else ()
    return GeneratorConfig(charset=charset, length=(1, 6), height=32, margins=(4, 2, 4, 2), fit=True,
                           fonts=fonts, effects="all", light_on_dark=0.5, blur=(0.0, 1.0),
                           jpeg_quality=(35, 95), padding=(0.0, 0.4), image_mode="L", seed=seed)


def fit(samples_dir: Path | str, output_dir: Path | str, time_limit: float | None = None,
        charset: str = DIGITS, holdout: Path | str | None = None, fonts: Sequence[str] = (),
        seed: int = 0, overwrite: bool = False,
        on_progress: Callable[[FitProgress], None] | None = None,
        start: Continuation | str = GENERAL, keep_suspicious: bool = False,
        started: float | None = None) -> FitResult:
    """Build the bank, match fonts, train on the styled stream, evaluate, write the report. Training
    continues from `start`, rehearsing that model's kind of screens as it goes: `"general"` (the default, the
    shipped general model) or a `Continuation` (another model, or an earlier fit); or it starts from random
    weights (`"scratch"`: a `tiny` network, which needs minutes rather than seconds). Crops whose label looks
    wrong are left out (and named) unless `keep_suspicious`. `time_limit` (seconds for the whole fit) is 15
    from the general model by default, 180 from scratch and 45 from another start; it counts from `started`
    (`time.monotonic()`; the CLI gives its command's start, so the limit is what the user waits), or from the
    call."""
    if time_limit is None:
        time_limit = OTHER_START_TIME_LIMIT if isinstance(start, Continuation) else \
            TIME_LIMITS.get(start, OTHER_START_TIME_LIMIT)
    return _fit(Path(samples_dir), Path(output_dir), time_limit, charset, holdout, fonts, seed, overwrite,
                on_progress or (lambda _: None), _continuation(start), keep_suspicious, started)


def _continuation(start: Continuation | str) -> Continuation | None:
    """The model a fit starts from (None: random weights)."""
    if isinstance(start, Continuation):
        return start
    if start not in (GENERAL, SCRATCH):
        raise UserError(f"a fit starts from {GENERAL!r}, {SCRATCH!r} or a model (a Continuation), got {start!r}")
    return Continuation(default_model_dir()) if start == GENERAL else None


def _fit(samples_dir: Path, run_dir: Path, time_limit: float, charset: str, holdout: Path | str | None,
         fonts: Sequence[str], seed: int, overwrite: bool, report: Callable[[FitProgress], None],
         start: Continuation | None = None, keep_suspicious: bool = False,
         started: float | None = None) -> FitResult:
    started = time.monotonic() if started is None else started
    if not time_limit - min(RESERVE_SECONDS, RESERVE_SHARE * time_limit) >= MIN_TRAINING_SECONDS:  # nan too
        raise UserError(f"a time limit of {time_limit:g} s leaves no time to train: give more")
    if (run_dir / "fit.json").exists() and not overwrite:
        raise UserError(f"{run_dir} already holds a fitted model: choose another folder or pass --overwrite")
    alphabet = Charset(charset)
    rng = np.random.default_rng(seed)
    crops = read_labelled_folder(samples_dir)
    if start is not None:
        crops += [crop for folder in start.samples for crop in read_labelled_folder(folder)]
        holdout = holdout or start.holdout
    if holdout is not None and not Path(holdout).is_dir():  # found out now, not after the training
        raise UserError(f"no holdout folder at {holdout}")
    if start is not None and not (start.model_dir / "model.json").is_file():  # nor after the bank
        raise UserError(f"no model folder at {start.model_dir} to start from (model.json is missing)")
    _check_labels(crops, alphabet)
    crops, split_off = _split_holdout(crops, holdout, rng)
    bank = build_bank(crops, name=f"bank:{samples_dir}")
    bank = bank if keep_suspicious else without_suspicious(bank)
    for rejection in bank.rejected:
        report(FitProgress("bank", f"skipped {rejection.name}: {rejection.reason}"))
    _check_enough(bank, alphabet)
    report(FitProgress("bank", f"{sum(map(len, bank.glyphs.values()))} glyphs of {bank.chars!r} "
                               f"from {len(bank.crops)} crops"))

    candidates: list[GlyphSource] = [*default_fonts(), *heldout_fonts()]
    if fonts:
        def warn(message: str) -> None:
            report(FitProgress("fonts", message))

        candidates += [f for f in resolve_fonts(list(fonts), "", warn) if f not in candidates]
    matches = rank_fonts(bank, candidates, rng)
    filled = fill_missing(bank, alphabet.chars, matches, rng)
    if unknown := filled.missing(alphabet.chars):
        raise UserError(f"no sample and no font for {''.join(sorted(unknown))!r}: add crops showing them or "
                        f"give --font with a font that draws them")
    report(FitProgress("fonts", "closest fonts: " + ", ".join(f"{m.source.name} {m.score:.2f}"
                                                               for m in matches[:5])))
    # a failure from here on (the budget eaten by bank and font matching, a full disk, a training that
    # diverges) leaves no half-made run: what this fit added to the folder goes
    with removed_on_failure(run_dir):
        filled.save(run_dir / "bank")

        preprocess = Preprocess()
        configs = synthetic_configs(bank.style, alphabet.chars, seed)
        if start is not None and REHEARSAL_WEIGHT > 0:
            configs[REHEARSAL] = rehearsal_config(alphabet.chars, seed)
        matched = [m.source for m in matches if not m.source.missing(alphabet.chars)][:MATCHED_FONTS]
        spec = training_data(configs, run_dir, matched, bank.crops)
        prepared = prepare_data(spec, alphabet, preprocess, seed)
        sources, validation = prepared.sources, prepared.validation
        for source, _ in sources:
            if isinstance(source, FolderSource):
                source.name = "real crops"

        budget = time_limit - (time.monotonic() - started) - min(RESERVE_SECONDS, RESERVE_SHARE * time_limit)
        if budget < MIN_TRAINING_SECONDS:
            raise UserError(f"a time limit of {time_limit:g} s leaves no time to train; give at least "
                            f"{15 if start is not None else 40}")
        network = _network_of(start.model_dir) if start is not None else {}
        workers = 1 if budget > SHORT_TRAINING_SECONDS else 0  # starting a batch process costs seconds
        train_config = TrainConfig(
            **network, run_dir=run_dir, data=spec, charset=alphabet.chars, preprocess=preprocess, epochs=10_000, time_limit=budget,
            epoch_size=BATCH_SIZE * 60, batch_size=BATCH_SIZE, lr=3e-3 if start is None else CONTINUE_LR,
            seed=seed, overwrite=True, augment=Augment(probability=0.3),
            workers=workers, curves=budget > SHORT_TRAINING_SECONDS,
            threads=max(1, _usable_cores() - workers),  # no core left idle while the batches are made in-process
            init_from=str(start.model_dir) if start else None,
        )
        report(FitProgress("train", f"training {train_config.architecture} for {budget:.0f} s"))

        def on_train(progress: TrainProgress) -> None:
            if progress.kind == "epoch":
                report(FitProgress("train", f"epoch {progress.epoch + 1}", progress.row))

        training = train(train_config, sources, validation, on_train)

        evaluations, pictures, evaluated_on = _evaluate(Reader(training.best_dir), alphabet, holdout, split_off,
                                                        bank, filled, configs, samples_dir, seed)
        texts = [item.text for evaluation in evaluations.values() for item in evaluation.items]
        labels = [item.label for evaluation in evaluations.values() for item in evaluation.items]
        result = FitResult(
            run_dir, training.best_dir, run_dir / "report.md", filled, matches,
            character_accuracy(texts, labels), word_accuracy(texts, labels), evaluated_on,
            {name: evaluation.to_mapping() for name, evaluation in evaluations.items()},
        )
        if start is not None:
            before, _, _ = _evaluate(Reader(start.model_dir), alphabet, holdout, split_off, bank, filled, configs,
                                     samples_dir, seed)
            before_texts = [item.text for evaluation in before.values() for item in evaluation.items]
            result.before = {"character_accuracy": character_accuracy(before_texts, labels),
                             "word_accuracy": word_accuracy(before_texts, labels)}
        result.seconds = time.monotonic() - started  # the starting model's evaluation is part of the fit
        write_fit_report(result, training, evaluations, pictures, configs, sources)
        summary = {"samples": str(samples_dir), "charset": alphabet.chars, "time_limit": time_limit,
                   "seconds": round(result.seconds, 1), "character_accuracy": round(result.character_accuracy, 4),
                   "word_accuracy": round(result.word_accuracy, 4), "evaluated_on": evaluated_on,
                   "model": str(training.best_dir), "steps": training.steps,
                   "fonts": [{"name": m.source.name, "score": round(m.score, 4)} for m in matches[:8]],
                   "rejected": [{"name": r.name, "reason": r.reason} for r in bank.rejected],
                   "generator": {name: config.to_mapping() for name, config in configs.items()},
                   "evaluations": result.evaluations, "holdout": str(holdout) if holdout is not None else None,
                   "started_from": str(start.model_dir) if start is not None else None,
                   "continued": [str(folder) for folder in start.samples] if start is not None else [],
                   "before": result.before}
        write_text_atomically(run_dir / "fit.json", json.dumps(summary, indent=2) + "\n")
        return result


def training_data(configs: dict[str, GeneratorConfig], run_dir: Path, matched: Sequence[GlyphSource],
                  crops: Sequence[LabelledCrop]) -> DataSpec:
    """The training mix as a DataSpec, which the run keeps, so `digitocr train --resume` rebuilds it: one
    weighted stream per config, drawing with the run's bank (stroke-jittered) or the matched fonts, and
    the real crops, copied into the run (`crops/`)."""
    bank = f"{BANK_PREFIX}{(run_dir / 'bank').resolve()}"
    fonts = tuple(_font_spec(source) for source in matched)
    streams = []
    for name, config in configs.items():
        jitter = 0.0
        if name == "matched fonts":
            config = replace(config, fonts=fonts)
        elif name != REHEARSAL:  # which keeps its own fonts
            config, jitter = replace(config, fonts=(bank,)), STROKE_JITTER
        streams.append(SyntheticStream(name, config.to_mapping(), SOURCE_WEIGHTS.get(name, REHEARSAL_WEIGHT), jitter))
    folder = (run_dir / "crops").resolve()
    names = [f"{index:04d}.png" for index in range(len(crops))]
    for name, crop in zip(names, crops):
        save_image(crop.image, folder / name)
    write_labels_tsv(folder / LABELS_FILE, [(name, crop.label) for name, crop in zip(names, crops)])
    return DataSpec(folders=[(str(folder), SOURCE_WEIGHTS["real crops"])], streams=streams,
                    val_size=VALIDATION_SIZE, validation="synthetic+folders")


def _font_spec(source: GlyphSource) -> str:
    """The font spec `resolve_fonts` turns back into `source`."""
    if isinstance(source, FontFile):
        family = find_family(source.name)
        return source.name if family is not None and family.primary == source.path else str(source.path)
    return source.name


def _evaluate(reader: Reader, charset: Charset, holdout: Path | str | None, split_off: list[LabelledCrop],
              bank: GlyphBank, filled: GlyphBank, configs: dict[str, GeneratorConfig], samples_dir: Path,
              seed: int) -> tuple[dict[str, EvalReport], dict[str, list[np.ndarray]], str]:
    """Evaluate on the holdout folder, else on the split-off crops, else on the fitting crops plus
    unseen bank renders; returns the reports, their pictures, and a phrase saying which it was."""
    if holdout is not None:
        sets = {"holdout": load_labelled([holdout], charset)}
        if not sets["holdout"].labels:
            raise UserError(f"no usable labelled images in holdout folder {holdout}")
        evaluated_on = f"the {len(sets['holdout'].labels)} crops of {holdout}"
    elif split_off:
        sets = {"held-out split": _as_labelled(split_off)}
        evaluated_on = f"{len(split_off)} crops split off from {samples_dir} (not used for fitting)"
    else:
        sets = {"fitting crops": _as_labelled(bank.crops), "bank renders": _synthetic_check(configs, filled, seed)}
        evaluated_on = (f"the {len(bank.crops)} fitting crops and {SYNTHETIC_CHECK_SIZE} unseen synthetic "
                        f"renders of the bank (too few crops to hold any out; give --holdout DIR)")
    reports = {name: evaluate(reader, data) for name, data in sets.items()}
    pictures = {name: [np.asarray(image) for image in data.images] for name, data in sets.items()}
    return reports, pictures, evaluated_on


def _usable_cores() -> int:
    """Cores this process may run on (a taskset or container limit, not the machine's count)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 2


def _network_of(model_dir: Path) -> dict[str, Any]:
    """The architecture and options of the model a fit starts from, for the network it trains."""
    meta = read_meta(model_dir)
    options = {key: value for key, value in meta["architecture_options"].items() if key != "height"}
    return {"architecture": meta["architecture"], "architecture_options": options}


def _check_labels(crops: list[LabelledCrop], charset: Charset) -> None:
    for crop in crops:
        if unknown := charset.missing(crop.label.replace(" ", "")):
            raise UserError(f"{crop.name}: label {crop.label!r} has {''.join(sorted(unknown))!r}, "
                            f"outside the charset {charset.chars!r} (pass --charset)")


def _split_holdout(crops: list[LabelledCrop], holdout: Path | str | None,
                   rng: np.random.Generator) -> tuple[list[LabelledCrop], list[LabelledCrop]]:
    """With enough crops and no holdout folder, a fifth is kept aside to measure on."""
    if holdout is not None or len(crops) < SPLIT_HOLDOUT_FROM:
        return crops, []
    order = rng.permutation(len(crops))
    cut = len(crops) // 5
    return [crops[i] for i in order[cut:]], [crops[i] for i in order[:cut]]


def _check_enough(bank: GlyphBank, charset: Charset) -> None:
    usable = len(bank.crops)
    if usable >= MIN_USABLE_CROPS:
        return
    absent = "".join(sorted(bank.missing(charset.chars)))
    wanted = f", ideally showing {absent!r}" if absent else ""
    raise UserError(f"only {usable} usable crop(s); add at least {MIN_USABLE_CROPS - usable} more "
                    f"labelled crop(s){wanted}")


def _as_labelled(crops: Sequence[LabelledCrop]) -> LabelledImages:
    return LabelledImages([c.image for c in crops], [c.label for c in crops],
                          [Path(c.name) for c in crops])


def _synthetic_check(configs: dict[str, GeneratorConfig], bank: GlyphBank, seed: int) -> LabelledImages:
    """Unseen bank renders (a seed apart from training) in the clean and thresholded looks."""
    data = LabelledImages()
    for offset, name in enumerate(("bank (crop colours)", "bank (thresholded)")):
        generator = TextImageGenerator(replace(configs[name], seed=seed + 7919 + offset), [bank])
        for index in range(SYNTHETIC_CHECK_SIZE // 2):
            image, label = generator.sample_at(index)
            data.images.append(np.asarray(image))
            data.labels.append(label)
            data.paths.append(Path(f"synthetic/{label}_{offset}{index:03d}.png"))
    return data


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)

