"""Micro-batching: reads that arrive together go through the network as one batch.

One task per worker process gathers the jobs that are waiting and hands them, all at once, to a single reading
thread (decoding, cropping and inference happen there, off the event loop). While that thread works, new
jobs queue up and form the next batch, so batches grow with the load and, by default, a lone request never
waits for company: it is read at once. `max_wait` (seconds) makes the gathering task wait that long for more
jobs before it reads a batch smaller than `max_batch`: fewer, larger batches for a little latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Job = TypeVar("Job")
LOG = logging.getLogger("digitocr.serve")


@dataclass
class BatchStats:
    batches: int = 0
    jobs: int = 0
    largest: int = 0

    def to_dict(self) -> dict[str, Any]:
        mean = self.jobs / self.batches if self.batches else 0.0
        return {"batches": self.batches, "jobs": self.jobs, "mean_batch": round(mean, 2),
                "largest_batch": self.largest}


class Batcher(Generic[Job]):
    """`await batcher.read(job)` -> the job's result; `run(jobs)` returns one result or exception per job."""

    def __init__(self, run: Callable[[Sequence[Job]], list[Any]], *, max_batch: int = 64,
                 max_wait: float = 0.0) -> None:
        self._run = run
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.stats = BatchStats()
        self._pending: list[tuple[Job, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="digitocr-read")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._gather())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def read(self, job: Job) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        self._wake.set()
        return await future

    async def _gather(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.max_wait > 0 and len(self._pending) < self.max_batch:
                await asyncio.sleep(self.max_wait)
            while self._pending:
                batch = [(job, future) for job, future in self._pending[:self.max_batch] if not future.done()]
                del self._pending[:self.max_batch]
                if not batch:
                    continue
                try:
                    results = await loop.run_in_executor(self._executor, self._run, [job for job, _ in batch])
                except Exception as error:  # a bug in reading fails this batch (500), not the server
                    LOG.exception("reading a batch of %d failed", len(batch))
                    results = [error] * len(batch)
                self.stats.batches += 1
                self.stats.jobs += len(batch)
                self.stats.largest = max(self.stats.largest, len(batch))
                for (_, future), result in zip(batch, results):
                    if future.done():  # its client went away
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
