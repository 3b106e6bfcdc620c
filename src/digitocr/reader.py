"""`Reader`: a model folder turned into `read(image) -> Reading(text, confidence)` (torch backend)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from digitocr.errors import UserError
from digitocr.modelio import load_model
from digitocr.models import optimize_for_inference, pad_batch

ImageLike = Image.Image | np.ndarray | str | Path
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float  # probability of the best CTC path, 0..1


class Reader:
    """Reads crops with a trained model; the model folder says which preprocessing it expects.

    `batch_size` crops go through the network at once: 128 keeps the first layers' activations in the CPU's
    caches (256 read about a third slower on the 2-core benchmark machine).
    """

    def __init__(self, model_dir: Path | str, threads: int | None = None, batch_size: int = 128) -> None:
        loaded = load_model(model_dir)
        if threads:
            torch.set_num_threads(threads)
        self.model_dir = Path(model_dir)
        self.meta = loaded.meta
        self.charset = loaded.charset
        self.preprocess = loaded.preprocess
        self.batch_size = batch_size
        self._model = optimize_for_inference(loaded.model)

    def read(self, image: ImageLike, region: Box | None = None) -> Reading:
        """Read one crop, or the `region` (x0, y0, x1, y1) of a whole screenshot."""
        return self.read_batch([image], region)[0]

    def read_batch(self, images: Sequence[ImageLike], region: Box | None = None) -> list[Reading]:
        """Read many crops at once (batched by similar width, much faster than one by one)."""
        crops = [self.preprocess(crop_region(open_image(image), region)) for image in images]
        return self.read_preprocessed(crops)

    @torch.inference_mode()
    def read_preprocessed(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        """Read crops that already went through `self.preprocess`."""
        readings: list[Reading | None] = [None] * len(crops)
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1])
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            images, widths = pad_batch([crops[i] for i in chunk])
            log_probs = self._model(images)
            lengths = self._model.output_lengths(widths).clamp(max=log_probs.shape[0])
            for i, (text, confidence) in zip(chunk, self.charset.decode_greedy(log_probs.numpy(), lengths.numpy())):
                readings[i] = Reading(text, confidence)
        return readings  # type: ignore[return-value]


def open_image(image: ImageLike) -> Image.Image | np.ndarray:
    """A PIL image or array as is; a path opened (UserError when it is not a readable image)."""
    if not isinstance(image, str | Path):
        return image
    try:
        with Image.open(image) as opened:
            opened.load()
            return opened.copy()
    except (OSError, SyntaxError, ValueError) as error:
        raise UserError(f"cannot read {image}: {type(error).__name__}") from None


def parse_box(text: str) -> Box:
    """'x0,y0,x1,y1' -> a box (UserError otherwise)."""
    try:
        x0, y0, x1, y1 = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"a region is x0,y0,x1,y1 in whole pixels, got {text!r}") from None
    return x0, y0, x1, y1


def crop_region(image: Image.Image | np.ndarray, region: Box | None) -> Image.Image | np.ndarray:
    """The (x0, y0, x1, y1) box of the image, checked to lie inside it and to be non-empty."""
    if region is None:
        return image
    x0, y0, x1, y1 = region
    width, height = image.size if isinstance(image, Image.Image) else (image.shape[1], image.shape[0])
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise UserError(f"region {x0},{y0},{x1},{y1} is not inside the {width}x{height} image")
    if isinstance(image, Image.Image):
        return image.crop(region)
    return image[y0:y1, x0:x1]
