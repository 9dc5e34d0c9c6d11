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
- The bytes then go to a decoder process (``decoder.sandbox`` running ``decoder_process``, at
  most VIDEO_WORKERS at once, each killed at VIDEO_DECODE_TIMEOUT_S), which
  probes, bounds, samples, resizes and re-encodes them (``clip``, ``sampling``). Nothing of the
  original file reaches SGLang.
- One bad video fails the request with a ``VideoError`` whose ``param`` names the part. The
  first failure cancels the other videos' work; of failures that land together, the earliest
  in the request is reported. Videos of one request are prepared
  concurrently, within the worker slots.
- ``close()`` closes the shared HTTP session and ends the spare decoder processes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass

from sglang_worker.decoder.sandbox import DecoderPool, SandboxLimits, decode_isolated, workers
from sglang_worker.decoder.sources import prepare_each, read_bytes
from sglang_worker.errors import MediaPartError, VideoError
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.settings import Settings
from sglang_worker.video.clip import ClipFacts, ClipJob
from sglang_worker.video.parts import Location, VideoPart
from sglang_worker.video.sampling import VideoRules

DECODER = "sglang_worker.video.decoder_process"


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
        self._slots = asyncio.Semaphore(workers(settings.video_workers))
        self._decoders = DecoderPool(DECODER, settings.decoder_spares)
        self._limits = SandboxLimits(settings.video_decode_timeout_s,
                                     settings.video_decode_max_memory_mb)

    async def close(self) -> None:
        await self._fetcher.close()
        await self._decoders.close()

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
        results = await prepare_each(parts, lambda part: self._prepare_one(part, rules, budget))
        urls = {part.location: url for part, (url, _) in zip(parts, results, strict=True)}
        return urls, VideoReport(len(parts), budget.used, sum(len(u) for u in urls.values()),
                                 time.perf_counter() - started,
                                 tuple(facts for _, facts in results))

    async def _prepare_one(self, part: VideoPart, rules: VideoRules,
                           budget: ImageBudget) -> tuple[str, ClipFacts]:
        try:
            data = await read_bytes(part.source, "video", self._fetcher, budget,
                                    self._settings.video_local_dir)
            job = ClipJob(rules, self._settings.max_video_seconds,
                          self._settings.max_video_frame_pixels, part.fps, part.max_frames,
                          self._settings.video_decode_threads)
            async with self._slots:
                facts, url = await decode_isolated(self._decoders, asdict(job), data,
                                                   self._limits, "video")
            return url, ClipFacts(**{**facts, **{key: tuple(facts[key])
                                                 for key in ("size_in", "size_out")}})
        except MediaPartError as exc:
            raise VideoError(exc.message, param=part.param) from None
