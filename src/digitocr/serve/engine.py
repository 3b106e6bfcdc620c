"""What a server worker reads with: its models and profiles, loaded once, and the batch function that turns
a list of request jobs into a list of results (run in the reading thread, see batching.py).

A job is the bytes of one request: a crop, or a whole screenshot to cut into a profile's regions. Each job
is decoded, cut and preprocessed on its own, so one bad image is one refusal; then every crop of every good
job that a model reads goes through that model in one batch, each crop with its own checks (format, range,
confidence), whatever profile or region it came from.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitocr.errors import UserError
from digitocr.formats import parse_format
from digitocr.images import MAX_PIXELS, open_image
from digitocr.profile import Profile, Region, crop_regions, load_profile
from digitocr.reader import Checks, Reader
from digitocr.serve.config import ServeConfig
from digitocr.serve.limits import Refusal, ungzip


@dataclass(frozen=True)
class Target:
    """One thing a job reads: a profile's region (`name`), or the whole crop (`name` None)."""

    name: str | None
    reader: Reader
    checks: Checks


@dataclass(frozen=True)
class Plan:
    """What to read in an image: the crop itself (`profile` None, one target), or each region of `profile`."""

    targets: tuple[Target, ...]
    profile: Profile | None = None


@dataclass(frozen=True)
class Job:
    data: bytes
    plan: Plan


Result = dict[str, Any] | Refusal  # a reading's JSON, {"profile", "regions"} for a screenshot, or why not


class Engine:
    """The readers and profiles of one worker process."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.started = time.time()
        self.profiles: dict[str, Profile] = {}
        for path in config.profiles:
            profile = load_profile(path)
            if profile.name in self.profiles:
                first = self.profiles[profile.name].path
                raise UserError(f"two profiles are named {profile.name!r} ({first} and {path}): rename one")
            self.profiles[profile.name] = profile
        self.default_profile = next(iter(self.profiles.values()), None)  # what WebSocket frames are read with
        # the server's model, else the first profile's, else (None) the shipped general model
        self.default_model = config.model or next(
            (profile.model for profile in self.profiles.values() if profile.model), None)
        self.readers: dict[str, Reader] = {}
        self.default_reader = self.reader_for(None, None)
        self.screen_plans = {
            name: Plan(tuple(self.target(region, profile) for region in profile.regions.values()), profile)
            for name, profile in self.profiles.items()}

    def target(self, region: Region, profile: Profile) -> Target:
        reader = self.reader_for(region, profile)
        return Target(region.name, reader, self.checks(region, profile, reader))

    def reader_for(self, region: Region | None, profile: Profile | None) -> Reader:
        """The reader of the region's model, else the profile's, else the server's default (one per
        folder)."""
        model = ((region.model if region else None) or (profile.model if profile else None)
                 or self.default_model)
        key = os.path.abspath(model) if model is not None else ""
        if key not in self.readers:
            self.readers[key] = Reader(model, backend=self.config.backend, threads=self.config.threads)
        return self.readers[key]

    @staticmethod
    def checks(region: Region, profile: Profile, reader: Reader) -> Checks:
        """The region's checks, falling back to the reader's defaults for those it leaves out."""
        base = reader.checks
        fmt = None
        if region.format is not None:
            fmt = parse_format(region.format)
            fmt.check_charset(reader.charset, profile.where(region.name))
        return Checks(fmt or base.format, region.value_range or base.value_range,
                      base.min_confidence if region.min_confidence is None else region.min_confidence)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one engine per process, alive as long as it
    def crop_plan(self, number_format: str | None = None) -> Plan:
        """Read the image as one crop with the default model, in `number_format` if given."""
        base = self.default_reader.checks
        if number_format is None:
            return Plan((Target(None, self.default_reader, base),))
        try:
            fmt = parse_format(number_format)
            fmt.check_charset(self.default_reader.charset, "format")
        except UserError as error:
            raise Refusal(400, str(error)) from None
        return Plan((Target(None, self.default_reader, Checks(fmt, base.value_range, base.min_confidence)),))

    def screen_plan(self, profile_name: str) -> Plan:
        """Read the image as a screenshot with every region of the profile."""
        if profile_name not in self.screen_plans:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise Refusal(404, f"no profile named {profile_name!r} (loaded: {known})")
        return self.screen_plans[profile_name]

    def decode(self, data: bytes) -> np.ndarray:
        limits = self.config.limits
        try:
            return open_image(ungzip(data, limits.max_inflated), name="the image",
                              max_pixels=limits.max_pixels or MAX_PIXELS)
        except UserError as error:
            raise Refusal(400, str(error)) from None

    def cut(self, job: Job) -> list[tuple[Target, np.ndarray]]:
        """The job's preprocessed crops, one per target (Refusal when the image cannot give them)."""
        pixels = self.decode(job.data)
        profile = job.plan.profile
        try:
            crops: dict[str | None, np.ndarray] = {None: pixels}
            if profile is not None:
                crops.update(crop_regions(pixels, profile))
            return [(target, target.reader.preprocess(crops[target.name])) for target in job.plan.targets]
        except UserError as error:
            raise Refusal(422, str(error)) from None

    def run(self, jobs: Sequence[Job]) -> list[Result]:
        """One result per job; all crops a model reads, from every job, go through it as one batch."""
        results: list[Result | None] = [None] * len(jobs)
        batches: dict[int, list[tuple[int, Target, np.ndarray]]] = {}
        for index, job in enumerate(jobs):
            try:
                for target, crop in self.cut(job):
                    batches.setdefault(id(target.reader), []).append((index, target, crop))
            except Refusal as refusal:
                results[index] = refusal
        readings: dict[tuple[int, str | None], dict[str, Any]] = {}
        for members in batches.values():
            reader = members[0][1].reader
            for (index, target, _), reading in zip(members, reader.read_preprocessed(
                    [crop for *_, crop in members], [target.checks for _, target, _ in members])):
                readings[(index, target.name)] = reading.to_dict()
        for index, job in enumerate(jobs):
            profile = job.plan.profile
            if results[index] is None:
                results[index] = readings[(index, None)] if profile is None else {"profile": profile.name,
                    "regions": {t.name: readings[(index, t.name)] for t in job.plan.targets}}
        return results  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """What /models shows: each loaded model with its metrics, and each profile's regions."""
        models = [{"path": str(reader.model_dir), "default": reader is self.default_reader,
                   "backend": reader.backend,
                   "architecture": reader.meta.get("architecture"), "charset": reader.charset.chars,
                   "metrics": reader.meta.get("metrics", {})} for reader in self.readers.values()]
        profiles = {name: {"path": str(profile.path) if profile.path else None,
                           "frame_size": list(profile.frame_size) if profile.frame_size else None,
                           "regions": {target.name: region_summary(profile.regions[target.name], target)
                                       for target in self.screen_plans[name].targets
                                       if target.name is not None}}
                    for name, profile in self.profiles.items()}
        return {"models": models, "profiles": profiles}


def region_summary(region: Region, target: Target) -> dict[str, Any]:
    return {"box": list(region.box), "units": region.units, "format": region.format,
            "range": list(region.value_range) if region.value_range else None,
            "min_confidence": target.checks.min_confidence, "model": str(target.reader.model_dir)}
