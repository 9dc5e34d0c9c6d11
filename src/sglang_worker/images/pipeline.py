"""Prepare the image parts of a request for SGLang: the async orchestrator of the image modules.

Contract:
- ``ImagePipeline.prepare(parts, grid)`` takes the image parts an API module found in a body
  (``parts.ImagePart``; the pipeline knows nothing of body layouts) and returns, for each
  part's location, a ``data:image/...;base64,`` URL that SGLang can decode without fetching or
  reading anything itself, plus an ``ImageReport`` for log lines (counts, bytes and time only;
  never image data). The API module puts the URLs back into the body.
- One bad image fails the whole request with an ``ImageError`` whose ``param`` names the part,
  e.g. ``messages[0].content[2]``; nothing is dropped silently. With several bad images, the one
  earliest in the request is reported.
- Order of work: the image count is checked first (MAX_IMAGES_PER_REQUEST); then each distinct
  source string at each detail is prepared once (a chat that re-sends an image downloads and
  decodes it once), all of them concurrently: fetched (``fetch``), read (``source``) or
  decoded from base64, then normalised (``normalise``). The byte limits are shared across the
  request (``budget``).
- Sizing: ``prepare(parts, grid)`` sizes every image for the served model's image
  processor (``grid``, from ``model_grid``; None: the generic IMAGE_MAX_SIDE and
  IMAGE_MAX_PIXELS), so that SGLang's processor has nothing left to resize and the image
  tokens are those of the original (``sizing``). ``detail``: ``"low"`` lowers the
  pixel budget to IMAGE_LOW_DETAIL_MAX_PIXELS; ``"high"``, ``"auto"`` and absent keep the
  model's maximum (or IMAGE_MAX_PIXELS, whichever is lower).
- Prepared images are kept in a bounded cache (``prepared_cache``, IMAGE_CACHE_BYTES; 0 turns
  it off) keyed by a digest of the source (the base64 text of an inline image, the bytes of a
  downloaded or local one) and the limits: a chat that re-sends a photo on every turn decodes
  it once per process. URL images are still downloaded every time; only the work on bytes seen
  before is skipped, so a URL whose content changes is never served stale.
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
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from PIL import Image

import sglang_worker.images.base64_slices as base64_slices
from sglang_worker.errors import ImageError, earliest_media_error
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.images.normalise import ImageLimits, NormalisedImage, normalise_image
from sglang_worker.images.parts import ImagePart, Location
from sglang_worker.images.prepared_cache import PreparedCache, digest_bytes, digest_text
from sglang_worker.images.sizing import PixelGrid, Size
from sglang_worker.images.source import (
    InlineSource,
    LocalSource,
    RemoteSource,
    classify,
    decode_inline,
    estimated_size,
    read_local_file,
)
from sglang_worker.settings import MB, Settings

T = TypeVar("T")
IMAGE_THREAD_NICENESS = 5
_ENTRY_OVERHEAD = 256  # bytes a cache entry costs beyond its data URL: key, facts, bookkeeping


@dataclass(frozen=True, slots=True)
class ImageReport:
    count: int = 0  # image parts in the request
    total_bytes_in: int = 0  # bytes of the distinct images as received
    seconds: float = 0.0
    changed: int = 0  # parts whose image was re-encoded (the rest passed through)
    sizes: tuple[tuple[Size, Size], ...] = ()  # per distinct image: upright size in, size out
    cache_hits: int = 0  # distinct images served from the prepared-image cache

    def describe_sizes(self) -> str:
        """``4000x3000>112x84,640x480`` (an image that kept its size appears once)."""
        return ",".join(_size_text(a) + ("" if a == b else ">" + _size_text(b))
                        for a, b in self.sizes) or "-"


@dataclass(frozen=True, slots=True)
class _Prepared:
    url: str | None  # None: the source text itself, unchanged (a cache entry keeps no data)
    mime: str
    changed: bool
    size_in: Size
    size_out: Size
    bytes_in: int
    cached: bool = False

    @property
    def cost(self) -> int:
        return len(self.url or "") + _ENTRY_OVERHEAD

    def url_for(self, source: InlineSource | None) -> str:
        if self.url is not None:
            return self.url
        assert source is not None
        header = f"data:{self.mime};base64,"
        return source.text if source.text.startswith(header) else header + source.payload


class ImagePipeline:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limits = ImageLimits(
            max_pixels=settings.max_image_pixels,
            max_side=settings.image_max_side,
            target_pixels=settings.image_max_pixels,
            jpeg_quality=settings.image_jpeg_quality,
            allow_tiff=settings.image_allow_tiff,
        )
        self._cache: PreparedCache[_Prepared] = PreparedCache(settings.image_cache_bytes)
        self._fetcher = ImageFetcher(settings)
        self._pool = ThreadPoolExecutor(image_workers(settings.image_workers),
                                        thread_name_prefix="image",
                                        initializer=_yield_to_the_event_loop)

    async def close(self) -> None:
        await self._fetcher.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def prepare(self, parts: list[ImagePart], grid: PixelGrid | None = None
                      ) -> tuple[dict[Location, str], ImageReport]:
        """A data URL for each part's location, and what it took; ``grid`` is the served
        model's sizing rules (None: the generic limits)."""
        if not parts:
            return {}, ImageReport()
        limit = self._settings.max_images_per_request
        if len(parts) > limit:
            raise ImageError(f"request has {len(parts)} images, over the limit of {limit} "
                             "(MAX_IMAGES_PER_REQUEST)", param=parts[limit].param)
        started = time.perf_counter()
        budget = ImageBudget(per_image=self._settings.max_image_bytes,
                             total=self._settings.max_total_image_bytes)
        first_use: dict[tuple[str, ImageLimits], ImagePart] = {}
        for part in parts:
            first_use.setdefault((part.source, self._limits_for(part, grid)), part)
        prepared = await self._prepare_all(parts, first_use, budget)
        urls = {part.location: prepared[part.source, self._limits_for(part, grid)][1]
                for part in parts}
        self._check_sent(parts, urls)
        report = ImageReport(
            count=len(parts),
            total_bytes_in=budget.used,
            seconds=time.perf_counter() - started,
            changed=sum(prepared[part.source, self._limits_for(part, grid)][0].changed
                        for part in parts),
            sizes=tuple((p.size_in, p.size_out) for p, _ in prepared.values()),
            cache_hits=sum(p.cached for p, _ in prepared.values()),
        )
        return urls, report

    def _check_sent(self, parts: list[ImagePart], urls: dict[Location, str]) -> None:
        """What goes to SGLang is bounded too: a lossless image re-encoded as PNG can grow,
        and an image used twice is sent twice."""
        limit, sent = self._settings.max_total_image_bytes, 0
        for part in parts:
            sent += len(urls[part.location])
            if sent > limit:
                raise ImageError(
                    f"the images of this request come to over {limit / MB:g} MB as sent to "
                    f"the engine (MAX_TOTAL_IMAGE_BYTES) by this part; send fewer or smaller "
                    "images", param=part.param)

    def _limits_for(self, part: ImagePart, grid: PixelGrid | None) -> ImageLimits:
        budget = self._limits.target_pixels
        if part.detail == "low":
            low = self._settings.image_low_detail_max_pixels
            budget = min(budget, low) if budget else low
        return replace(self._limits, grid=grid, target_pixels=budget)

    async def _prepare_all(self, parts: list[ImagePart],
                           first_use: dict[tuple[str, ImageLimits], ImagePart],
                           budget: ImageBudget
                           ) -> dict[tuple[str, ImageLimits], tuple[_Prepared, str]]:
        tasks: dict[tuple[str, ImageLimits], asyncio.Task[tuple[_Prepared, str]]] = {}
        try:
            # A TaskGroup cancels the other downloads as soon as one image fails.
            async with asyncio.TaskGroup() as group:
                for key, part in first_use.items():
                    tasks[key] = group.create_task(self._prepare_one(part, key[1], budget))
        except BaseExceptionGroup as failures:
            raise earliest_media_error(failures, [part.param for part in parts]) from None
        return {key: task.result() for key, task in tasks.items()}

    async def _prepare_one(self, part: ImagePart, limits: ImageLimits,
                           budget: ImageBudget) -> tuple[_Prepared, str]:
        try:
            source = classify(part.source)
            if isinstance(source, InlineSource):
                budget.check_size(estimated_size(source), approximate=True)
                prepared = await self._in_pool(self._inline_to_url, source, limits)
                budget.take(prepared.bytes_in, prepared.bytes_in)
                return prepared, prepared.url_for(source)
            if isinstance(source, RemoteSource):
                data = await self._fetcher.fetch(source.url, budget)
            else:
                data = await self._local_bytes(source, budget)
            prepared = await self._in_pool(self._bytes_to_url, data, limits)
            return prepared, prepared.url_for(None)
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

    def _inline_to_url(self, source: InlineSource, limits: ImageLimits) -> _Prepared:
        key = (digest_text(source.text, source.payload_start), limits) if self._cache.capacity \
            else None
        hit = self._cache.get(key) if key else None
        if hit is not None:
            return replace(hit, cached=True)
        data, canonical = decode_inline(source)
        image = normalise_image(data, limits)
        # Canonical base64 of an unchanged image is sent as it came: no copy, no re-encoding.
        url = None if not image.changed and canonical else _data_url(image)
        prepared = _Prepared(url, image.mime, image.changed, image.size_in, image.size_out,
                             len(data))
        if key:
            self._cache.put(key, prepared)
        return prepared

    def _bytes_to_url(self, data: bytes, limits: ImageLimits) -> _Prepared:
        key = (digest_bytes(data), limits) if self._cache.capacity else None
        hit = self._cache.get(key) if key else None
        if hit is not None:
            return replace(hit, cached=True)
        image = normalise_image(data, limits)
        prepared = _Prepared(_data_url(image), image.mime, image.changed, image.size_in,
                             image.size_out, len(data))
        if key:
            self._cache.put(key, prepared)
        return prepared


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


def _size_text(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


def _data_url(image: NormalisedImage) -> str:
    return f"data:{image.mime};base64,{base64_slices.encode(image.data)}"

