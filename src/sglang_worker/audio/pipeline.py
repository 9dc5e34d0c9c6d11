"""Prepare the audio parts of a request for SGLang: the async orchestrator of the audio modules.

Contract:
- ``AudioPipeline.prepare(parts, rules)`` takes the audio parts an API module found
  (``parts.AudioPart``) and returns, for each part's location, a
  ``data:audio/x-matroska;base64,`` URL of the mono track SGLang should see (``track``), plus an
  ``AudioReport`` for log lines (counts, bytes, lengths and time; never audio data). The API
  module puts the URLs back into the body.
- The count check, the reading and the decoder processes are ``decoder.media``'s, shared with
  video. The count is checked first (MAX_AUDIOS_PER_REQUEST). The source is read as a video's is
  (``decoder.sources``: data URL, bare base64, an ``https`` URL through the same SSRF guard, or
  a local file only below ``AUDIO_LOCAL_DIR``), within MAX_AUDIO_BYTES and
  MAX_TOTAL_AUDIO_BYTES.
- The bytes then go to a decoder process (``decoder.sandbox`` running ``decoder_process``, at
  most AUDIO_WORKERS at once, each killed at AUDIO_DECODE_TIMEOUT_S and capped at
  AUDIO_DECODE_MAX_MEMORY_MB), which probes, bounds, decodes, resamples, cuts and re-encodes
  them (``track``). Nothing of the original file reaches SGLang.
- One bad file fails the request with an ``AudioError`` whose ``param`` names the part; the
  earliest in the request is reported (``decoder.sources.prepare_each``).
- ``close()`` closes the shared HTTP session and ends the spare decoder processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sglang_worker.audio.parts import AudioPart
from sglang_worker.audio.rules import AudioRules
from sglang_worker.audio.track import TrackFacts, TrackJob
from sglang_worker.decoder.media import DecodedMedia, MediaLimits
from sglang_worker.decoder.sandbox import SandboxLimits
from sglang_worker.images.parts import Location
from sglang_worker.settings import Settings

DECODER = "sglang_worker.audio.decoder_process"


@dataclass(frozen=True, slots=True)
class AudioReport:
    count: int = 0
    bytes_in: int = 0  # bytes of the files as received
    bytes_out: int = 0  # bytes of the track URLs sent to SGLang
    seconds: float = 0.0
    facts: tuple[TrackFacts, ...] = ()

    def describe(self) -> str:
        """``WAV:48000x2@600.0s>30.0s`` per file (format, rate and channels in, length in and
        out; ``cut`` when stopped at the model's window)."""
        return ",".join(f"{f.container}:{f.rate_in}x{f.channels_in}@{f.seconds_in:.1f}s>"
                        f"{f.seconds_out:.1f}s{'(cut)' if f.cut else ''}"
                        for f in self.facts) or "-"


class AudioPipeline:
    def __init__(self, settings: Settings) -> None:
        self._max_seconds = settings.max_audio_seconds
        self._media = DecodedMedia("audio", "audio parts", DECODER, MediaLimits(
            settings.max_audios_per_request, settings.max_audio_bytes,
            settings.max_total_audio_bytes, settings.audio_local_dir, settings.audio_workers,
            SandboxLimits(settings.audio_decode_timeout_s, settings.audio_decode_max_memory_mb)),
            settings)

    async def close(self) -> None:
        await self._media.close()

    async def prepare(self, parts: list[AudioPart], rules: AudioRules
                      ) -> tuple[dict[Location, str], AudioReport]:
        """A data URL for each part's location, and what it took."""
        if not parts:
            return {}, AudioReport()

        def job(part: AudioPart) -> dict[str, Any]:
            return asdict(TrackJob(rules, self._max_seconds, part.format))

        done = await self._media.prepare(parts, job, lambda facts: TrackFacts(**facts))
        return done.urls, AudioReport(len(parts), done.bytes_in, done.bytes_out, done.seconds,
                                      done.facts)
