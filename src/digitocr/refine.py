"""`refine`: the seed's crop-and-threshold script as a step anyone can rerun, with the code reading uses.

Crops come out of `profile.crop_regions`, the very function `Reader.read_screen` applies to a frame, so a
crop refined here is the crop the model will see when reading. A preview sheet shows each sample raw,
refined as asked, and under a row of other thresholds, so the threshold is chosen by looking once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from digitocr.errors import UserError
from digitocr.files import write_atomically
from digitocr.images import IMAGE_EXTENSIONS, encode_image, open_image, save_image
from digitocr.profile import Profile, Refine, Region, crop_regions

PREVIEW_THRESHOLDS = ("otsu", 120, 150, 170, 185, 200, 220)
PREVIEW_HEIGHT = 64
PREVIEW_SAMPLES = 4


@dataclass
class Refined:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why"


def region_profile(box: str, refine: Refine) -> Profile:
    """A one-region profile from `[NAME=]x0,y0,x1,y1`: whole numbers are pixels; fractions ("81/1280") or
    decimals between 0 and 1 are ratios of the frame."""
    name, _, corners = box.rpartition("=")
    parts = [part.strip() for part in corners.split(",")]
    try:
        values = tuple(Fraction(part) for part in parts)
    except (ValueError, ZeroDivisionError):
        values = ()
    if len(values) != 4:
        raise UserError(f"--region is x0,y0,x1,y1 in pixels or ratios like 81/1280, got {box!r}")
    ratios = any(not part.lstrip("-").isdigit() for part in parts)
    x0, y0, x1, y1 = (float(v) for v in values)
    if not (x0 < x1 and y0 < y1) or min(values) < 0 or (ratios and max(values) > 1):
        raise UserError(f"--region {box!r} is empty or outside the frame (ratios lie between 0 and 1)")
    region = Region(name or "region", (x0, y0, x1, y1), "ratios" if ratios else "pixels", refine=refine)
    return Profile(None, "command line", None, False, None, {region.name: region})


def with_refine(profile: Profile, changes: dict[str, object], only: Sequence[str] = ()) -> Profile:
    """The profile limited to the regions `only` (all when empty), each region's refinement with `changes`."""
    if unknown := [name for name in only if name not in profile.regions]:
        raise UserError(f"{profile.where()}: no region {', '.join(map(repr, unknown))} "
                        f"(it has {', '.join(profile.regions)})")
    regions = {name: dataclasses.replace(region, refine=_changed(region.refine or Refine(), changes))
               for name, region in profile.regions.items() if not only or name in only}
    return dataclasses.replace(profile, regions=regions)


def _changed(refine: Refine, changes: dict[str, object]) -> Refine:
    return dataclasses.replace(refine, **changes)  # type: ignore[arg-type]


def list_inputs(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Image files of the arguments (a folder gives its images); anything else is listed as skipped."""
    images: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and not child.name.startswith("."):
                    (images if child.suffix.lower() in IMAGE_EXTENSIONS else skipped).append(child)
        elif path.is_file():
            (images if path.suffix.lower() in IMAGE_EXTENSIONS else skipped).append(path)
        else:
            raise UserError(f"no such file or folder: {path}")
    if not images:
        others = f" (skipped {len(skipped)} other files)" if skipped else ""
        raise UserError(f"no images among the inputs{others}")
    return images, [f"{path}: not an image" for path in skipped]


def output_paths(images: Sequence[Path], output: Path, profile: Profile) -> dict[Path, dict[str, Path]]:
    """Where each crop goes: OUT/NAME.png for one region, OUT/REGION/NAME.png for several."""
    stems: dict[str, Path] = {}
    for image in images:
        if (other := stems.setdefault(image.stem, image)) != image:
            raise UserError(f"{other} and {image} would both be {image.stem}.png: refine them separately")
    nested = len(profile.regions) > 1
    return {image: {name: (output / name if nested else output) / f"{image.stem}.png"
                    for name in profile.regions} for image in images}


def refine_images(images: Sequence[Path], output: Path, profile: Profile, overwrite: bool = False) -> Refined:
    """Crop and refine every region of every image into `output`; undecodable images and frames the boxes do
    not fit are skipped and listed. Nothing is written when an output exists and `overwrite` is off."""
    targets = output_paths(images, output, profile)
    if not overwrite and (taken := [p for paths in targets.values() for p in paths.values() if p.exists()]):
        raise UserError(f"{taken[0]} exists ({len(taken)} output(s) would be replaced): choose another "
                        f"folder or pass --overwrite")
    result = Refined()
    for image in images:
        try:
            crops = crop_regions(open_image(image), profile)
        except UserError as error:
            result.skipped.append(f"{image}: {error}")
            continue
        for name, crop in crops.items():
            path = targets[image][name]
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, encode_image(crop, "png"))
            result.written.append(path)
    if not result.written:
        raise UserError("nothing refined: " + "; ".join(result.skipped[:3]))
    return result


def write_preview(images: Sequence[Path], profile: Profile, path: Path,
                  thresholds: Sequence[int | str] = PREVIEW_THRESHOLDS) -> Path:
    """A sheet with one row per sample and region: the raw crop, the refinement asked for, then the same
    refinement at each of `thresholds`, every tile captioned and scaled to one height."""
    rows = []
    for image in images[:PREVIEW_SAMPLES]:
        try:
            frame = open_image(image)
        except UserError:
            continue
        for name, region in profile.regions.items():
            raw = _raw_crop(frame, region, profile)
            refine = region.refine or Refine()
            tiles = [(f"{image.stem} {name}", raw), (_describe(refine), refine.apply(raw))]
            tiles += [(f"threshold {t}", _changed(refine, {"threshold": t}).apply(raw))
                      for t in thresholds if t != refine.threshold]
            rows.append(_row(tiles))
    if not rows:
        raise UserError("no decodable sample for the preview")
    width = max(row.shape[1] for row in rows)
    sheet = np.vstack([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255)
                       for row in rows])
    return save_image(sheet, path)


def _raw_crop(frame: np.ndarray, region: Region, profile: Profile) -> np.ndarray:
    x0, y0, x1, y1 = region.pixel_box(frame.shape[1], frame.shape[0], profile)
    return frame[y0:y1, x0:x1]


def _describe(refine: Refine) -> str:
    return f"refined: threshold {refine.threshold}, invert {refine.invert}"


def _row(tiles: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Tiles side by side, each scaled (pixels kept sharp) to PREVIEW_HEIGHT with its caption below."""
    columns = []
    for caption, pixels in tiles:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else pixels[..., :3]
        scale = PREVIEW_HEIGHT / rgb.shape[0]
        scaled = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), PREVIEW_HEIGHT),
                            interpolation=cv2.INTER_NEAREST)
        (text_width, _), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        tile = np.full((PREVIEW_HEIGHT + 22, max(scaled.shape[1], text_width + 4) + 12, 3), 255, np.uint8)
        tile[4:4 + PREVIEW_HEIGHT, 6:6 + scaled.shape[1]] = scaled
        cv2.putText(tile, caption, (6, PREVIEW_HEIGHT + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1,
                    cv2.LINE_AA)
        columns.append(tile)
    return np.hstack(columns)
