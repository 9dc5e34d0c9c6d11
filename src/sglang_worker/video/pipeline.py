"""Prepare the video parts of a request for SGLang: the async orchestrator of the video modules.

Contract:
- ``VideoPipeline.prepare(parts, rules)`` takes the video parts an API module found
  (``parts.VideoPart``) and returns, for each part's location, a ``data:video/mp4;base64,``
  URL of the clip SGLang should see, plus a ``VideoReport`` for log lines (counts, bytes, sizes
  and time; never video data). The API module puts the URLs back into the body.
- The source is read as an image's is (``images.source``: data URL, bare base64, an ``https``
  URL fetched through the same SSRF guard, or a local file only below ``VIDEO_LOCAL_DIR``),
  within MAX_VIDEO_BYTES and MAX_TOTAL_VIDEO_BYTES. The count is checked first
  (MAX_VIDEOS_PER_REQUEST).
- The bytes then go to a decoder process (``sandbox``, at most VIDEO_WORKERS at once), which
  probes, bounds, samples, resizes and re-encodes them (``clip``, ``sampling``). Nothing of the
  original file reaches SGLang.
- One bad video fails the request with a ``VideoError`` whose ``param`` names the part. The
  first failure cancels the other videos' work; of failures that land together, the earliest
  in the request is reported. Videos of one request are prepared
  concurrently, within the worker slots.
- ``close()`` closes the shared HTTP session.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sglang_worker.errors import MediaPartError, VideoError, earliest_media_error
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.images.source import (
    InlineSource,
    RemoteSource,
    classify,
    decode_inline,
    estimated_size,
    read_local_file,
)
from sglang_worker.settings import Settings
from sglang_worker.video.clip import ClipFacts, ClipJob
from sglang_worker.video.parts import Location, VideoPart
from sglang_worker.video.sampling import VideoRules
from sglang_worker.video.sandbox import SandboxLimits, decode_isolated, video_workers


@dataclass(frozen=True, slots=True)
class VideoReport:
    count: int = 0
    bytes_in: int = 0  # bytes of the videos as received
    bytes_out: int = 0  # bytes of the clips sent to SGLang
    seconds: float = 0.0
    facts: tuple[ClipFacts, ...] = ()

    def describe(self) -> str:
        """``1280x720@30s:900>20x644x364`` per video (size in, length, frames out and size)."""
        return ",".join(f"{f.size_in[0]}x{f.size_in[1]}@{f.seconds:.1f}s:{f.frames_in}>"
                        f"{f.frames_out}x{f.size_out[0]}x{f.size_out[1]}"
                        for f in self.facts) or "-"


class VideoPipeline:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._fetcher = ImageFetcher(settings, noun="video")
        self._slots = asyncio.Semaphore(video_workers(settings.video_workers))
        self._limits = SandboxLimits(settings.video_decode_timeout_s,
                                     settings.video_decode_max_memory_mb)

    async def close(self) -> None:
        await self._fetcher.close()

    async def prepare(self, parts: list[VideoPart], rules: VideoRules
                      ) -> tuple[dict[Location, str], VideoReport]:
        """A data URL for each part's location, and what it took."""
        if not parts:
            return {}, VideoReport()
        limit = self._settings.max_videos_per_request
        if len(parts) > limit:
            raise VideoError(f"request has {len(parts)} videos, over the limit of {limit} "
                             "(MAX_VIDEOS_PER_REQUEST)", param=parts[limit].param)
        started = time.perf_counter()
        budget = ImageBudget(per_image=self._settings.max_video_bytes,
                             total=self._settings.max_total_video_bytes, noun="video")
        tasks = []
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._prepare_one(part, rules, budget))
                         for part in parts]
        except BaseExceptionGroup as failures:
            raise earliest_media_error(failures, [part.param for part in parts]) from None
        results = [task.result() for task in tasks]
        urls = {part.location: url for part, (url, _) in zip(parts, results, strict=True)}
        return urls, VideoReport(len(parts), budget.used, sum(len(u) for u in urls.values()),
                                 time.perf_counter() - started,
                                 tuple(facts for _, facts in results))

    async def _prepare_one(self, part: VideoPart, rules: VideoRules,
                           budget: ImageBudget) -> tuple[str, ClipFacts]:
        try:
            data = await self._bytes(part, budget)
            job = ClipJob(rules, self._settings.max_video_seconds,
                          self._settings.max_video_frame_pixels, part.fps, part.max_frames,
                          self._settings.video_decode_threads)
            async with self._slots:
                return await decode_isolated(data, job, self._limits)
        except MediaPartError as exc:
            raise VideoError(exc.message, param=part.param) from None

    async def _bytes(self, part: VideoPart, budget: ImageBudget) -> bytes:
        source = classify(part.source, "video")
        if isinstance(source, RemoteSource):
            return await self._fetcher.fetch(source.url, budget)
        if isinstance(source, InlineSource):
            budget.check_size(estimated_size(source), approximate=True)
            data, _ = await asyncio.to_thread(decode_inline, source, "video")
        else:
            data = await asyncio.to_thread(read_local_file, source,
                                           self._settings.video_local_dir, budget, "video")
        budget.take(len(data), len(data))
        return data

