"""Prepare every image of a request for SGLang: the async orchestrator of the image modules.

Contract:
- ``ImagePipeline.prepare(route, body)`` returns a new body (the input is not mutated) in which
  every image part (see ``image_parts``) is a ``data:image/...;base64,`` URL that SGLang can
  decode without fetching or reading anything itself, plus an ``ImageReport`` for log lines
  (counts, bytes and time only; never image data).
- One bad image fails the whole request with an ``ImageError`` whose ``param`` names the part,
  e.g. ``messages[0].content[2]``; nothing is dropped silently. With several bad images, the one
  earliest in the request is reported.
- Order of work: the image count is checked first (MAX_IMAGES_PER_REQUEST); then each distinct
  source string is prepared once (a chat that re-sends an image downloads and decodes it once),
  all of them concurrently: fetched (``image_fetch``), read (``image_source``) or decoded from
  base64, then normalised (``image_normalise``). The byte limits are shared across the request
  (``image_budget``).
- Decoding, resizing, encoding and file reads run in a bounded thread pool (IMAGE_WORKERS), never
  on the event loop, so a large image never stalls other jobs' streams. The pool's threads run
  at a lower CPU priority than the loop, and base64 work is sliced (``base64_slices``) so the
  loop is never kept waiting for the GIL.
- An image that passes through unchanged keeps its base64 text when that was already canonical,
  so a large inline image is neither decoded twice nor encoded again.
- ``close()`` closes the shared HTTP session and the pool.
- Pillow's own decompression-bomb limit is process-wide: the process sets it once at start-up
  with ``limit_pillow_pixels(MAX_IMAGE_PIXELS)``; building a pipeline does not touch it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

import sglang_worker.images.base64_slices as base64_slices
from sglang_worker.errors import ImageError
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.images.normalise import ImageLimits, NormalisedImage, normalise_image
from sglang_worker.images.parts import (
    ImagePart,
    count_image_parts,
    find_image_parts,
    replace_image_parts,
)
from sglang_worker.images.source import (
    InlineSource,
    LocalSource,
    RemoteSource,
    classify,
    decode_inline,
    estimated_size,
    read_local_file,
)
from sglang_worker.settings import Settings

__all__ = ["ImagePipeline", "ImageReport", "count_image_parts", "limit_pillow_pixels"]

T = TypeVar("T")
IMAGE_THREAD_NICENESS = 5


@dataclass(frozen=True, slots=True)
class ImageReport:
    count: int = 0  # image parts in the request
    total_bytes_in: int = 0  # bytes of the distinct images as received
    seconds: float = 0.0
    changed: int = 0  # parts whose image was re-encoded (the rest passed through)


@dataclass(frozen=True, slots=True)
class _Prepared:
    url: str
    changed: bool


class ImagePipeline:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limits = ImageLimits(
            max_pixels=settings.max_image_pixels,
            max_side=settings.image_max_side,
            target_pixels=settings.image_max_pixels,
            jpeg_quality=settings.image_jpeg_quality,
        )
        self._fetcher = ImageFetcher(settings)
        self._pool = ThreadPoolExecutor(image_workers(settings.image_workers),
                                        thread_name_prefix="image",
                                        initializer=_yield_to_the_event_loop)

    async def close(self) -> None:
        await self._fetcher.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def prepare(self, route: str, body: dict[str, Any]) -> tuple[dict[str, Any],
                                                                        ImageReport]:
        """``body`` with every image part replaced by a data URL, and what it took."""
        parts = find_image_parts(route, body)
        if not parts:
            return body, ImageReport()
        limit = self._settings.max_images_per_request
        if len(parts) > limit:
            raise ImageError(f"request has {len(parts)} images, over the limit of {limit} "
                             "(MAX_IMAGES_PER_REQUEST)", param=parts[limit].param)
        started = time.perf_counter()
        budget = ImageBudget(per_image=self._settings.max_image_bytes,
                             total=self._settings.max_total_image_bytes)
        first_use: dict[str, ImagePart] = {}
        for part in parts:
            first_use.setdefault(part.source, part)
        prepared = await self._prepare_all(parts, first_use, budget)
        urls = {part.location: prepared[part.source].url for part in parts}
        report = ImageReport(
            count=len(parts),
            total_bytes_in=budget.used,
            seconds=time.perf_counter() - started,
            changed=sum(prepared[part.source].changed for part in parts),
        )
        return replace_image_parts(route, body, urls), report

    async def _prepare_all(self, parts: list[ImagePart], first_use: dict[str, ImagePart],
                           budget: ImageBudget) -> dict[str, _Prepared]:
        tasks: dict[str, asyncio.Task[_Prepared]] = {}
        try:
            # A TaskGroup cancels the other downloads as soon as one image fails.
            async with asyncio.TaskGroup() as group:
                for source, part in first_use.items():
                    tasks[source] = group.create_task(self._prepare_one(part, budget))
        except BaseExceptionGroup as failures:
            raise _earliest(failures, parts) from None
        return {source: task.result() for source, task in tasks.items()}

    async def _prepare_one(self, part: ImagePart, budget: ImageBudget) -> _Prepared:
        try:
            source = classify(part.source)
            if isinstance(source, InlineSource):
                budget.check_size(estimated_size(source), approximate=True)
                prepared, size = await self._in_pool(self._inline_to_url, source)
                budget.take(size, size)
                return prepared
            if isinstance(source, RemoteSource):
                data = await self._fetcher.fetch(source.url, budget)
            else:
                data = await self._local_bytes(source, budget)
            return await self._in_pool(self._bytes_to_url, data)
        except ImageError as exc:
            # A new error rather than setting ``param`` on this one: aiohttp hands the same
            # resolver exception to every request resolving that host at that moment.
            raise ImageError(exc.message, param=part.param) from None

    async def _local_bytes(self, source: LocalSource, budget: ImageBudget) -> bytes:
        data = await self._in_pool(read_local_file, source, self._settings.image_local_dir,
                                   budget)
        budget.take(len(data), len(data))
        return data

    async def _in_pool(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(func, *args))

    def _inline_to_url(self, source: InlineSource) -> tuple[_Prepared, int]:
        data, canonical = decode_inline(source)
        image = normalise_image(data, self._limits)
        if not image.changed and canonical:
            header = f"data:{image.mime};base64,"
            url = source.text if source.text.startswith(header) else header + source.payload
            return _Prepared(url, False), len(data)
        return _Prepared(_data_url(image), image.changed), len(data)

    def _bytes_to_url(self, data: bytes) -> _Prepared:
        image = normalise_image(data, self._limits)
        return _Prepared(_data_url(image), image.changed)


def limit_pillow_pixels(max_pixels: int) -> None:
    """Set Pillow's own decompression-bomb limit (MAX_IMAGE_PIXELS), once, where the process
    starts.

    The limit is process-wide, so it is not a pipeline's to set. It backs up the header check
    of ``normalise`` inside the decoders (a GIF frame larger than its canvas, a TIFF tile).
    """
    Image.MAX_IMAGE_PIXELS = max_pixels


def image_workers(configured: int) -> int:
    """IMAGE_WORKERS, or for 0 one thread less than the CPU cores (at least 1, at most 4)."""
    return configured or min(4, max(1, (os.cpu_count() or 2) - 1))


def _yield_to_the_event_loop() -> None:
    """Run image threads at a lower CPU priority than the event loop's thread (Linux).

    Decoding a big image is throughput work; the loop relays other jobs' tokens and must get a
    core first, or on a small machine its streams stutter while images are being shrunk.
    """
    # Not Linux, or not allowed: the pool still works, at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), IMAGE_THREAD_NICENESS)


def _data_url(image: NormalisedImage) -> str:
    return f"data:{image.mime};base64,{base64_slices.encode(image.data)}"


def _earliest(failures: BaseExceptionGroup, parts: list[ImagePart]) -> BaseException:
    """The failure to report: a bug as it is, else the image error earliest in the request."""
    errors = list(failures.exceptions)
    unexpected = [e for e in errors if not isinstance(e, ImageError)]
    if unexpected:
        return unexpected[0]
    order = {part.param: i for i, part in enumerate(parts)}
    return min(errors, key=lambda e: order.get(e.param, len(parts)))
