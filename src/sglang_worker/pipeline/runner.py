"""The transport-neutral pipeline: an ``EngineRequest`` in, one response or batches of SSE
events out. It knows nothing of RunPod jobs or HTTP servers; both faces drive it the same way.

Contract:
- ``Pipeline.check_alive()`` raises ``EngineUnavailable`` once the engine has stopped, so a
  face can refuse work before it parses anything.
- ``Pipeline.build(route, body)`` is the engine request (``request.build_request``), checked
  also against what the served model can take (the API's ``check_model``: rerank's content
  parts only for a model whose rerank renders them), with the LoRA adapter it asks for in
  SGLang's spelling (``adapters.pick_adapter``). ``/v1/models`` answers name each adapter by
  its name only (``adapters.public_models``).
- ``Pipeline.call(request, stats)`` and ``Pipeline.events(request, stats)`` first make every
  image, video and audio part safe (``media.prepare_media``: the route's API module finds the
  parts and puts back what the medium's pipeline prepared; a model without vision refuses
  images and videos with ``VisionNotSupported``, one without audio input refuses audio with
  ``AudioNotSupported``, before any part is read), then call the engine: ``call`` returns the
  engine's response, ``events`` yields lists of whole SSE events as SGLang produces them. An
  error the engine sends inside its stream is raised after the events before it were yielded.
  Nothing blocks the event loop: image work runs in a thread pool, video and audio work in
  decoder processes, engine calls are aiohttp.
- Failures are ``WorkerError``; an ``EngineUnavailable`` while the engine process is gone says
  that the engine died. The connection drops a moment before the process is seen to have
  exited (the kernel closes its sockets first), so such a failure waits up to
  ``ENGINE_DEATH_SETTLE_S`` for the death to show before it is passed on as it came.
- Closing ``events`` early (a cancel, a client gone) closes the engine response, so SGLang
  aborts the generation.
- The engine failures have promised wordings: ``ENGINE_STOPPED`` for a request refused because
  the engine had already stopped (the job should be retried elsewhere), ``ENGINE_DIED`` for a
  request in flight when it died.
- Images are sized for the served model's image processor: ``images.model_grid`` reads its
  rules once, from what ``EngineInfo`` says of the model (its type, its
  ``preprocessor_config.json``, the ``--mm-process-config`` image settings); the rules are
  logged at start.
- ``RequestStats`` collects what the faces log per request: images, the bytes received for
  them, how many were re-encoded, the sizing decision (each distinct image's size in and out,
  ``image_sizes=4000x3000>112x84,640x480``), prepared-image cache hits and the preparation
  time; the same for videos and audio (``audio_sizes=WAV:48000x2@600.0s>30.0s(cut)``); time to
  first output, chunks and tokens. Never content, media data or secrets.
- Audio is prepared for the served model's feature extractor (``audio.rules.audio_rules``: its
  sample rate, and the window its SGLang processor cuts to), logged at start.
- A model lookup (``EngineRequest.model_id``) is answered with that model's entry of SGLang's
  ``/v1/models`` list (``models.pick_model``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from sglang_worker.apis import api_for
from sglang_worker.audio.pipeline import AudioPipeline, AudioReport
from sglang_worker.audio.rules import audio_rules
from sglang_worker.engine.client import EngineClient, EngineRequest
from sglang_worker.engine.server import Engine, EngineInfo
from sglang_worker.errors import AudioNotSupported, EngineUnavailable, VisionNotSupported
from sglang_worker.images import ImagePipeline, ImageReport, model_grid
from sglang_worker.pipeline.adapters import pick_adapter, public_models
from sglang_worker.pipeline.media import prepare_media
from sglang_worker.pipeline.models import pick_model
from sglang_worker.pipeline.request import build_request
from sglang_worker.pipeline.stream import completion_tokens, stream_tokens, until_error
from sglang_worker.routes import MODELS_ROUTE, Route
from sglang_worker.settings import Settings
from sglang_worker.video.pipeline import VideoPipeline, VideoReport
from sglang_worker.video.sampling import video_rules

ENGINE_STOPPED = ("the SGLang engine has stopped; this worker is shutting down and the job "
                  "should be retried")
ENGINE_DIED = "the SGLang engine died while serving this job"
ENGINE_DEATH_SETTLE_S = 0.5
# After the engine died: how long a face lets its requests in flight be answered before the
# worker exits (both modes).
ENGINE_DEATH_GRACE_S = 10.0
log = logging.getLogger(__name__)


class RequestStats:
    __slots__ = (
        "audio_bytes_in",
        "audio_bytes_out",
        "audio_s",
        "audio_sizes",
        "audios",
        "chunks",
        "image_bytes_in",
        "image_cache_hits",
        "image_s",
        "image_sizes",
        "images",
        "images_changed",
        "started",
        "tokens",
        "ttft_s",
        "video_bytes_in",
        "video_bytes_out",
        "video_s",
        "video_sizes",
        "videos",
    )

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.images = 0
        self.image_bytes_in = 0  # bytes of the distinct images as received
        self.images_changed = 0  # image parts re-encoded (the rest passed through)
        self.image_sizes = "-"  # ImageReport.describe_sizes: each distinct image, in>out
        self.image_cache_hits = 0
        self.image_s = 0.0
        self.videos = 0
        self.video_bytes_in = 0
        self.video_bytes_out = 0  # bytes of the clips sent to SGLang
        self.video_sizes = "-"  # VideoReport.describe: each video, in>out
        self.video_s = 0.0
        self.audios = 0
        self.audio_bytes_in = 0
        self.audio_bytes_out = 0  # bytes of the tracks sent to SGLang
        self.audio_sizes = "-"  # AudioReport.describe: each file, in>out
        self.audio_s = 0.0
        self.ttft_s: float | None = None
        self.chunks = 0
        self.tokens: int | None = None

    def add_images(self, report: ImageReport) -> None:
        self.images = report.count
        self.image_bytes_in = report.total_bytes_in
        self.images_changed = report.changed
        self.image_sizes = report.describe_sizes()
        self.image_cache_hits = report.cache_hits
        self.image_s = report.seconds

    def add_videos(self, report: VideoReport) -> None:
        self.videos = report.count
        self.video_bytes_in = report.bytes_in
        self.video_bytes_out = report.bytes_out
        self.video_sizes = report.describe()
        self.video_s = report.seconds

    def add_audio(self, report: AudioReport) -> None:
        self.audios = report.count
        self.audio_bytes_in = report.bytes_in
        self.audio_bytes_out = report.bytes_out
        self.audio_sizes = report.describe()
        self.audio_s = report.seconds

    def first_output(self) -> None:
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self.started

    def summary(self) -> str:
        """The log fields, ``images=... total_s=...``."""
        ttft = f"{self.ttft_s:.3f}" if self.ttft_s is not None else "-"
        tokens = self.tokens if self.tokens is not None else "-"
        return (f"images={self.images} images_changed={self.images_changed} "
                f"image_bytes_in={self.image_bytes_in} image_s={self.image_s:.3f} "
                f"image_sizes={self.image_sizes} image_cache_hits={self.image_cache_hits} "
                f"videos={self.videos} video_bytes_in={self.video_bytes_in} "
                f"video_bytes_out={self.video_bytes_out} video_s={self.video_s:.3f} "
                f"video_sizes={self.video_sizes} "
                f"audios={self.audios} audio_bytes_in={self.audio_bytes_in} "
                f"audio_bytes_out={self.audio_bytes_out} audio_s={self.audio_s:.3f} "
                f"audio_sizes={self.audio_sizes} "
                f"ttft_s={ttft} "
                f"chunks={self.chunks} tokens={tokens} "
                f"total_s={time.perf_counter() - self.started:.3f}")


class Pipeline:
    def __init__(
        self,
        info: EngineInfo,
        client: EngineClient,
        images: ImagePipeline,
        videos: VideoPipeline,
        audio: AudioPipeline,
        engine_alive: Callable[[], bool],
        *,
        death_settle_s: float = ENGINE_DEATH_SETTLE_S,
        max_n: int | None = None,
    ):
        self.info = info
        self.max_n = max_n
        self.client = client
        self.images = images
        self.videos = videos
        self.audio = audio
        self.engine_alive = engine_alive
        self.death_settle_s = death_settle_s
        self.image_grid = model_grid(info.model_type, info.preprocessor, info.mm_image_config)
        if info.vision:
            log.info("image sizing: %s", self.image_grid.describe() if self.image_grid else
                     "no known image processor; generic limits (IMAGE_MAX_SIDE, "
                     "IMAGE_MAX_PIXELS)")
        self.video_rules = video_rules(info.mm_video_config, os.environ)
        if info.vision:
            log.info("video sampling: %s", self.video_rules.describe())
        self.audio_rules = audio_rules(info.model_type, info.preprocessor)
        if info.audio:
            log.info("audio: %s", self.audio_rules.describe())

    async def close(self) -> None:
        """Release the engine connections and the media threads and sessions."""
        await self.client.close()
        await self.images.close()
        await self.videos.close()
        await self.audio.close()

    def check_alive(self) -> None:
        if not self.engine_alive():
            raise EngineUnavailable(ENGINE_STOPPED)

    def build(self, route: Route, body: Any) -> EngineRequest:
        """The engine request for a route a face decided at its door, and the body it got."""
        request = build_request(route, body, served_model=self.info.served_model,
                                vocab_size=self.info.vocab_size, max_n=self.max_n)
        api = api_for(request.route)
        if api is None or request.body is None:
            return request
        api.check_model(request.body, self.info)
        return replace(request, body=pick_adapter(request.route, request.body,
                                                  self.info.served_model, self.info.adapters))

    async def _prepare(self, request: EngineRequest, stats: RequestStats) -> EngineRequest:
        api = api_for(request.route)
        if request.body is None or api is None:
            return request
        body = request.body
        stats.images = api.count("image", body)
        stats.videos = api.count("video", body)
        stats.audios = api.count("audio", body)
        if not stats.images and not stats.videos and not stats.audios:
            return request
        if (stats.images or stats.videos) and not self.info.vision:
            raise VisionNotSupported(
                f"Model {self.info.served_model} does not support vision (image or video) "
                "inputs"
            )
        if stats.audios and not self.info.audio:
            raise AudioNotSupported(f"Model {self.info.served_model} does not support audio "
                                    "inputs")
        if stats.images:
            body, images = await prepare_media(self.images, "image", request.route, body,
                                               self.image_grid)
            stats.add_images(images)
        if stats.videos:
            body, videos = await prepare_media(self.videos, "video", request.route, body,
                                               self.video_rules)
            stats.add_videos(videos)
        if stats.audios:
            body, audio = await prepare_media(self.audio, "audio", request.route, body,
                                              self.audio_rules)
            stats.add_audio(audio)
        return replace(request, body=body)

    async def _engine_died(self, error: EngineUnavailable) -> EngineUnavailable:
        """``ENGINE_DIED`` if the engine process is gone (or goes within the settle time),
        else ``error`` as it came."""
        deadline = time.monotonic() + self.death_settle_s
        while self.engine_alive():
            if time.monotonic() >= deadline:
                return error
            await asyncio.sleep(0.01)
        return EngineUnavailable(ENGINE_DIED)

    async def call(self, request: EngineRequest, stats: RequestStats) -> Any:
        request = await self._prepare(request, stats)
        try:
            response = await self.client.call(request)
        except EngineUnavailable as error:
            raise await self._engine_died(error) from None
        stats.first_output()
        stats.tokens = completion_tokens(response)
        if request.route == MODELS_ROUTE:
            response = public_models(response, self.info.adapters)
        return response if request.model_id is None else pick_model(response,
                                                                      request.model_id)

    async def events(self, request: EngineRequest,
                     stats: RequestStats) -> AsyncIterator[list[bytes]]:
        request = await self._prepare(request, stats)
        try:
            async with aclosing(self.client.stream(request)) as batches:
                async for batch in batches:
                    events, error = until_error(batch)
                    if events:
                        stats.first_output()
                        stats.chunks += len(events)
                        tokens = stream_tokens(events)
                        if tokens is not None:
                            stats.tokens = tokens
                        yield events
                    if error is not None:
                        raise error
        except EngineUnavailable as error:
            raise await self._engine_died(error) from None


def make_pipeline(settings: Settings, info: EngineInfo, engine: Engine) -> Pipeline:
    """The pipeline of a started engine, as both modes and the tests build it."""
    return Pipeline(info, EngineClient(info.base_url, settings), ImagePipeline(settings),
                    VideoPipeline(settings), AudioPipeline(settings), lambda: engine.alive,
                    max_n=settings.max_n)
