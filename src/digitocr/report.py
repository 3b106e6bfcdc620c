"""The fit report: a Markdown page with pictures, so a user can see what fit learned from.

It shows the bank (every glyph instance, real or borrowed from a font), real crops beside synthetic
samples of each stream, the training curves and the evaluation grids, with the measured style and
the font ranking as tables.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitocr.evaluate import EvalReport, save_grid, summary_lines
from digitocr.files import make_folder, write_text_atomically
from digitocr.images import save_image
from digitocr.synth.glyphs import GlyphBank
from digitocr.synth.options import GeneratorConfig

if TYPE_CHECKING:  # fit imports this module to write its report
    from digitocr.fit import FitResult

ZOOM = 3
SAMPLES_PER_STREAM = 8


def bank_sheet(bank: GlyphBank) -> Image.Image:
    """One row per character: its instances side by side, enlarged; borrowed glyphs on a tinted cell."""
    font = ImageFont.load_default()
    rows = sorted(bank.glyphs.items())
    glyphs = [glyph for _, instances in rows for glyph in instances]
    above = max(0, -min(g.top for g in glyphs))  # a glyph may rise above its line or hang below it
    cell = ZOOM * max(max(g.mask.shape[1], above + g.top + g.mask.shape[0]) for g in glyphs) + 6
    columns = max(len(instances) for _, instances in rows)
    sheet = Image.new("RGB", (24 + columns * cell, len(rows) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (char, instances) in enumerate(rows):
        draw.text((6, row * cell + cell // 2), char, fill=(0, 0, 0), font=font, anchor="lm")
        for column, glyph in enumerate(instances):
            x, y = 24 + column * cell, row * cell
            if glyph.source.startswith("font:"):
                draw.rectangle((x, y, x + cell - 2, y + cell - 2), fill=(255, 236, 200))
            big = Image.fromarray(255 - glyph.mask).resize(
                (glyph.mask.shape[1] * ZOOM, glyph.mask.shape[0] * ZOOM), Image.Resampling.NEAREST)
            sheet.paste(big, (x + 3, y + 3 + (above + glyph.top) * ZOOM))
    return sheet


def samples_sheet(real: Sequence[tuple[np.ndarray, str]], streams: dict[str, list[tuple[np.ndarray, str]]]
                  ) -> Image.Image:
    """Real crops on the first row, then a row of samples per synthetic stream, all enlarged."""
    font = ImageFont.load_default()
    named_rows = [("real crops", list(real)), *streams.items()]
    images = [(Image.fromarray(pixels).convert("RGB"), label) for _, row in named_rows for pixels, label in row]
    scale = max(1, round(48 / max(image.height for image, _ in images)))
    cell_w = max(image.width for image, _ in images) * scale + 8
    cell_h = max(image.height for image, _ in images) * scale + 16
    label_w = 140
    width = label_w + cell_w * max(len(row) for _, row in named_rows)
    sheet = Image.new("RGB", (width, cell_h * len(named_rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (name, items) in enumerate(named_rows):
        draw.text((4, row * cell_h + cell_h // 2), name, fill=(0, 0, 0), font=font, anchor="lm")
        for column, (pixels, label) in enumerate(items):
            image = Image.fromarray(pixels).convert("RGB")
            image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
            x, y = label_w + column * cell_w, row * cell_h
            sheet.paste(image, (x, y + 2))
            draw.text((x, y + image.height + 3), label, fill=(200, 0, 0), font=font)
    return sheet


def write_fit_report(result: FitResult, training: Any, evaluations: dict[str, EvalReport],
                     pictures: dict[str, list[np.ndarray]], configs: dict[str, GeneratorConfig],
                     sources: Sequence[tuple[Any, float]]) -> Path:
    """Write report.md and its pictures into the run folder; returns the report path."""
    run = result.run_dir
    figures = run / "report"
    make_folder(figures)
    save_image(bank_sheet(result.bank), figures / "bank.png")
    rng = np.random.default_rng(12345)
    streams = {}
    for source, _ in sources:
        if source.name in configs:
            streams[source.name] = [
                (np.asarray(image), label)
                for image, label in (source.generator.sample(rng) for _ in range(SAMPLES_PER_STREAM))
            ]
    real = [(crop.image, crop.label) for crop in result.bank.crops[:SAMPLES_PER_STREAM]]
    save_image(samples_sheet(real, streams), figures / "samples.png")
    if Path(training.curves_path).is_file():
        shutil.copyfile(training.curves_path, figures / "curves.png")
    grids = {}
    for name, report in evaluations.items():
        grid = figures / f"eval-{name.replace(' ', '-')}.png"
        save_grid(report, pictures[name], grid)
        grids[name] = grid.name

    style = result.bank.style
    lines = [
        "# Fit report", "",
        f"Model: `{result.model_dir}` (read with `digitocr read --model {result.model_dir} IMAGE`).",
        f"Fitted in {result.seconds:.0f} s, {training.steps} training steps ({training.stopped_because}).", "",
        (f"**Character Accuracy: {result.character_accuracy:.2f}  Word Accuracy: {result.word_accuracy:.2f}** "
         f"on {result.evaluated_on}."), "",
        "## Glyph bank", "",
        f"{len(result.bank.crops)} crops used; glyphs on a tinted cell were borrowed from the best-matching font.",
        "", "![bank](report/bank.png)", "",
    ]
    if result.bank.rejected:
        lines += ["Skipped crops:", ""] + [f"- `{r.name}`: {r.reason}" for r in result.bank.rejected] + [""]
    lines += [
        "| measured | value |", "| --- | --- |",
        f"| glyph height | {style.glyph_height:.1f} px |",
        f"| stroke width | {style.stroke_width:.1f} px |",
        f"| gaps between glyphs | {_spread(style.gaps)} px |",
        f"| padding left / right | {_spread(style.pad_left)} / {_spread(style.pad_right)} px |",
        f"| padding top / bottom | {_spread(style.pad_top)} / {_spread(style.pad_bottom)} px |",
        f"| polarity | {'light on dark' if style.light_on_dark else 'dark on light'} |",
        f"| ink / background | {style.ink_rgb} / {style.background_rgb} |",
        f"| edge softness | {style.edge_width:.2f} px{' (thresholded)' if style.thresholded else ''} |",
        "", "## Closest fonts", "", "| font | score |", "| --- | --- |",
        *[f"| {m.source.name} | {m.score:.3f} |" for m in result.matches[:8]],
        "", "## Training data", "",
        "Real crops, then samples of each synthetic stream (before preprocessing):", "",
        "![samples](report/samples.png)", "",
        "| stream | weight |", "| --- | --- |",
        *[f"| {source.name} | {weight:.2f} |" for source, weight in sources],
        "", "## Training curves", "", "![curves](report/curves.png)", "", "## Evaluation", "",
    ]
    for name, report in evaluations.items():
        lines += [f"### {name} ({len(report.items)} images)", "", "```", *summary_lines(report), "```", "",
                  f"![{name}](report/{grids[name]})", ""]
    path = run / "report.md"
    write_text_atomically(path, "\n".join(lines))
    return path


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}-{high:g} (median {float(np.median(values)):g})"



