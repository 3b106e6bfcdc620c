"""Writing a dataset: images named LABEL_INDEX.EXT plus labels.tsv, from worker processes.

Each sample's randomness comes from `default_rng([seed, index])`, so a seeded run writes the same bytes
whatever the worker count; Ctrl-C finishes the files in flight and the manifest lists exactly those.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import multiprocessing.pool
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2

from digitocr.errors import UserError
from digitocr.files import removed_on_failure, write_atomically
from digitocr.images import encode_image
from digitocr.labels import LABELS_FILE, list_labelled_files, safe_label, write_labels_tsv
from digitocr.synth.fonts import GlyphSource
from digitocr.synth.generate import TextImageGenerator
from digitocr.synth.options import NAME_FORMATS, GeneratorConfig


def file_name(label: str, index: int, config: GeneratorConfig) -> str:
    """`LABEL_INDEX.EXT` (or TRDG's other name formats); path separators in a label become '_'."""
    return NAME_FORMATS[config.name_format].format(label=safe_label(label), index=index) + f".{config.extension}"


def _index_in(name: str, name_format: int) -> int:
    """The index in a file name of the generator's format (-1 for other names)."""
    stem = name.rsplit(".", 1)[0]
    part = {0: stem.rsplit("_", 1)[-1], 1: stem.split("_", 1)[0], 2: stem}[name_format]
    return int(part) if part.isdigit() else -1


def _prepare_output_dir(output_dir: str | Path) -> Path:
    output = Path(output_dir)
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as error:
        raise UserError(f"cannot write to output folder {output}: {error.strerror or error}") from None
    return output


Entry = tuple[int, str, str]  # index, file name, label
_CHUNK_SIZE = 32  # indices claimed at a time: small enough to balance, large enough to cost nothing


@dataclass
class _SharedWork:
    """Chunks of indices that the parent and the worker processes claim one at a time, with the count
    written so far and the stop flag Ctrl-C sets (process-shared values)."""

    count: int
    first: int  # index of the first image (after the existing ones, when appending)
    next_chunk: Any
    written: Any
    stop: Any

    def claim(self) -> range | None:
        with self.next_chunk.get_lock():
            start = self.next_chunk.value * _CHUNK_SIZE
            self.next_chunk.value += 1
        if start >= self.count or self.stop.is_set():
            return None
        return range(self.first + start, self.first + min(start + _CHUNK_SIZE, self.count))

    def write(self, generator: TextImageGenerator, output: Path) -> Iterator[list[Entry]]:
        """Write claimed chunks until none is left or a stop is asked for; yields each chunk's entries."""
        while (indices := self.claim()) is not None:
            entries = []
            for index in indices:
                if self.stop.is_set():
                    break
                pixels, label = generator.sample_array(generator.rng_at(index), index)
                name = file_name(label, index, generator.config)
                write_atomically(output / name, encode_image(pixels, generator.config.extension))
                entries.append((index, name, label))
            with self.written.get_lock():
                self.written.value += len(entries)
            yield entries


_worker_state: tuple[TextImageGenerator, Path, _SharedWork] | None = None


def _start_worker(config: GeneratorConfig, fonts: list[GlyphSource], output: Path, work: _SharedWork) -> None:
    global _worker_state
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent asks workers to stop through `work.stop`
    cv2.setNumThreads(1)
    _worker_state = (TextImageGenerator(config, fonts), output, work)


def _write_in_worker() -> list[Entry]:
    assert _worker_state is not None, "_start_worker runs first in every worker"
    generator, output, work = _worker_state
    return [entry for entries in work.write(generator, output) for entry in entries]


def _worker_context(start_method: str) -> multiprocessing.context.BaseContext:
    """The multiprocessing context for helpers; spawn where the method is not available."""
    if start_method not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload([__name__])  # helpers fork from a server that imported us once
    return context


def _start_helpers(context: multiprocessing.context.BaseContext, helpers: int,
                   initargs: tuple) -> multiprocessing.pool.Pool:
    """A pool of helper processes. `write_dataset` starts them while OpenCV's worker threads are stopped:
    a process forked beside them inherits a thread pool whose threads do not exist, and its first blur can hang."""
    return context.Pool(helpers, initializer=_start_worker, initargs=initargs)


@contextlib.contextmanager
def _opencv_single_threaded() -> Iterator[None]:
    """OpenCV's threads only spin-wait on images this small (a third of a run's CPU went to sched_yield)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


@contextlib.contextmanager
def _interrupt_sets(stop: Any) -> Iterator[None]:
    """While active, Ctrl-C sets `stop` instead of raising, so every file in flight is finished."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def write_dataset(config: GeneratorConfig, output_dir: str | Path, count: int, workers: int = 1,
                  on_progress: Callable[[int, int], None] | None = None,
                  fonts: Sequence[GlyphSource] | None = None, start_method: str = "forkserver",
                  append: bool = False, overwrite: bool = False) -> Path:
    """Write `count` images named LABEL_INDEX.EXT and a `labels.tsv` manifest; returns the manifest path.

    `workers` processes write (this one and workers - 1 helpers, so no time is lost while they start).
    Helpers start from a fork server by default, safe whatever threads the caller runs (torch's, say);
    `start_method="fork"` starts them fastest, for callers that run no threads of their own (the CLI).
    On Ctrl-C the images being written are finished, the manifest lists exactly the files written,
    and KeyboardInterrupt is raised.

    A folder that already holds images or a labels.tsv is refused unless `append` (new indices after the
    highest there, added to its labels.tsv, which lists the images already there too) or `overwrite` (a new
    labels.tsv listing only the new images; files of the same names are replaced)."""
    if count <= 0:
        raise UserError(f"count must be at least 1, got {count}")
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    if append and overwrite:
        raise UserError("--append and --overwrite exclude each other")
    # a failure (a bad background picture, a full disk) leaves no half-written images; Ctrl-C keeps the
    # images finished, listed in labels.tsv
    with removed_on_failure(output_dir):
        output = _prepare_output_dir(output_dir)
        existing = list_labelled_files(output)
        if existing and not (append or overwrite):
            raise UserError(f"{output} already holds {len(existing)} labelled image(s): pass --append to add to "
                            "them, or --overwrite to replace its labels.tsv with the new images")
        kept = [(path.relative_to(output), label) for path, label in existing] if append else []
        generator = TextImageGenerator(config, fonts)
        config = replace(config, seed=generator.seed)
        context = _worker_context(start_method)
        first = 1 + max((_index_in(path.name, config.name_format) for path, _ in kept), default=-1)
        work = _SharedWork(count, first, context.Value("q", 0), context.Value("q", 0), context.Event())
        helpers = min(workers - 1, math.ceil(count / _CHUNK_SIZE) - 1)
        entries: list[Entry] = []
        with _interrupt_sets(work.stop), _opencv_single_threaded(), contextlib.ExitStack() as stack:
            pending = []
            if helpers > 0:
                shared = (config, generator.fonts, output, work)
                pool = stack.enter_context(_start_helpers(context, helpers, shared))
                pending = [pool.apply_async(_write_in_worker) for _ in range(helpers)]
            for written in work.write(generator, output):
                entries += written
                if on_progress:
                    on_progress(work.written.value, count)
            for result in pending:
                while not result.ready():
                    result.wait(0.2)
                    if on_progress:
                        on_progress(work.written.value, count)
                entries += result.get()
            if on_progress:
                on_progress(len(entries), count)
        manifest = output / LABELS_FILE
        write_labels_tsv(manifest, [*kept, *((name, label) for _, name, label in sorted(entries))])
        if work.stop.is_set():
            raise KeyboardInterrupt
    return manifest
