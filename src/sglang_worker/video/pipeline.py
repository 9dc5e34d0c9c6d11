"""Prepare the video parts of a request for SGLang: the async orchestrator of the video modules.

Contract:
- ``VideoPipeline.prepare(parts, rules)`` takes the video parts an API module found
  (``parts.VideoPart``) and returns, for each part's location, a ``data:video/mp4;base64,``
  URL of the clip SGLang should see, plus a ``VideoReport`` for log lines (counts, bytes, sizes
  and time; never video data). The API module puts the URLs back into the body.
- The count check, the reading and the decoder processes are ``decoder.media``'s, shared with
  audio. The source is read as an image's is (``images.source``: data URL, bare base64, an ``https``
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

from dataclasses import asdict, dataclass
from typing import Any

from sglang_worker.decoder.media import DecodedMedia, MediaLimits
from sglang_worker.decoder.sandbox import SandboxLimits
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


def _clip_facts(facts: dict[str, Any]) -> ClipFacts:
    return ClipFacts(**{**facts, **{key: tuple(facts[key]) for key in ("size_in", "size_out")}})


class VideoPipeline:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._media = DecodedMedia("video", "videos", DECODER, MediaLimits(
            settings.max_videos_per_request, settings.max_video_bytes,
            settings.max_total_video_bytes, settings.video_local_dir, settings.video_workers,
            SandboxLimits(settings.video_decode_timeout_s, settings.video_decode_max_memory_mb)),
            settings)

    async def close(self) -> None:
        await self._media.close()

    async def prepare(self, parts: list[VideoPart], rules: VideoRules
                      ) -> tuple[dict[Location, str], VideoReport]:
        """A data URL for each part's location, and what it took."""
        if not parts:
            return {}, VideoReport()
        settings = self._settings

        def job(part: VideoPart) -> dict[str, Any]:
            return asdict(ClipJob(rules, settings.max_video_seconds,
                                  settings.max_video_frame_pixels, part.fps, part.max_frames,
                                  settings.video_decode_threads))

        done = await self._media.prepare(parts, job, _clip_facts)
        return done.urls, VideoReport(len(parts), done.bytes_in, done.bytes_out, done.seconds,
                                      done.facts)
