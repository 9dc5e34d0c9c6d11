"""The worker's side of a decoded medium (video, audio): everything their pipelines share
between an API module's parts and the decoder processes.

Contract:
- ``DecodedMedia(noun, plural, module, limits, settings)``: one per medium, holding its
  guarded fetcher (``images.fetch``, worded for ``noun``), its decoder slots
  (``limits.workers`` children at once) and its spare children (``sandbox.DecoderPool`` of
  ``module``).
- ``prepare(parts, job, facts)``: the count is checked first (``limits.per_request``, the error
  naming the first part past it and ``MAX_<NOUN>S_PER_REQUEST``); then every part's bytes are
  read (``sources.read_bytes``, within ``limits.per_file`` and ``limits.total``) and decoded in
  a child given ``job(part)``, concurrently (``sources.prepare_each``: the earliest failure in
  the request is raised, as the medium's ``MediaPartError`` naming the part). It returns each
  part's data URL by location, each part's ``facts(child's facts)``, the bytes received and the
  seconds it took; the medium's pipeline turns them into its report.
- ``close()`` closes the fetcher's HTTP session and ends the spare children.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from sglang_worker.decoder.sandbox import DecoderPool, SandboxLimits, decode_isolated, workers
from sglang_worker.decoder.sources import NamedPart, prepare_each, read_bytes
from sglang_worker.errors import MediaPartError, media_error
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.images.parts import Location
from sglang_worker.settings import Settings

F = TypeVar("F")


class MediaPart(NamedPart, Protocol):
    @property
    def source(self) -> str: ...

    @property
    def location(self) -> Location: ...


P = TypeVar("P", bound=MediaPart)


@dataclass(frozen=True, slots=True)
class MediaLimits:
    per_request: int  # MAX_<NOUN>S_PER_REQUEST
    per_file: int  # MAX_<NOUN>_BYTES
    total: int  # MAX_TOTAL_<NOUN>_BYTES
    local_dir: Path | None  # <NOUN>_LOCAL_DIR
    workers: int  # <NOUN>_WORKERS
    sandbox: SandboxLimits


@dataclass(frozen=True, slots=True)
class Prepared(Generic[F]):
    urls: dict[Location, str]
    facts: tuple[F, ...]
    bytes_in: int
    seconds: float

    @property
    def bytes_out(self) -> int:
        return sum(len(url) for url in self.urls.values())


class DecodedMedia:
    def __init__(self, noun: str, plural: str, module: str, limits: MediaLimits,
                 settings: Settings) -> None:
        self._noun, self._plural, self._limits = noun, plural, limits
        self._fetcher = ImageFetcher(settings, noun=noun)
        self._slots = asyncio.Semaphore(workers(limits.workers))
        self._decoders = DecoderPool(module, settings.decoder_spares)

    async def close(self) -> None:
        await self._fetcher.close()
        await self._decoders.close()

    async def prepare(self, parts: Sequence[P], job: Callable[[P], dict[str, Any]],
                      facts: Callable[[dict[str, Any]], F]) -> Prepared[F]:
        """Every part decoded (see the module contract)."""
        limit = self._limits.per_request
        if len(parts) > limit:
            raise media_error(self._noun, f"request has {len(parts)} {self._plural}, over the "
                              f"limit of {limit} (MAX_{self._noun.upper()}S_PER_REQUEST)",
                              param=parts[limit].param)
        started = time.perf_counter()
        budget = ImageBudget(per_image=self._limits.per_file, total=self._limits.total,
                             noun=self._noun)

        async def one(part: P) -> tuple[str, F]:
            try:
                data = await read_bytes(part.source, self._noun, self._fetcher, budget,
                                        self._limits.local_dir)
                async with self._slots:
                    found, url = await decode_isolated(self._decoders, job(part), data,
                                                       self._limits.sandbox, self._noun)
                return url, facts(found)
            except MediaPartError as exc:
                raise media_error(self._noun, exc.message, param=part.param) from None

        results = await prepare_each(parts, one)
        return Prepared({part.location: url for part, (url, _) in zip(parts, results,
                                                                      strict=True)},
                        tuple(found for _, found in results), budget.used,
                        time.perf_counter() - started)
