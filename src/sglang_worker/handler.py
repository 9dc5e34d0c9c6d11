"""The RunPod handler: one job in, its output yields out.

Contract:
- ``Worker.handle`` is an async generator (the SDK streams it and runs one task per job), and
  nothing in it blocks the event loop: image work runs in a thread pool, engine calls are
  aiohttp.
- The job's way: ``job_input.parse_job_input`` -> vision check -> ``ImagePipeline.prepare``
  -> ``EngineClient.call``/``stream`` -> ``output``. The output and error contract is in
  ``output``'s docstring.
- Every failure ends the job through that contract; nothing escapes as an exception, so the
  SDK never reports a traceback for a user's mistake. Unexpected bugs are logged with their
  traceback on the worker side only and reported to the user as an internal error.
- Cancellation (RunPod's per-job cancel) propagates as ``CancelledError``; the engine request
  is closed on the way out, so SGLang aborts the generation. A cancel that lands in the SDK
  while it posts a yield (outside this generator) closes it too: the job's output is tied to
  the job's task (``job_task``), so the abort never waits for garbage collection.
- One log line per job: job id, route, stream, images and their preparation time, time to first
  token, chunks and tokens, total time. Never request content, image data or secrets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

from .engine import EngineInfo
from .engine_client import EngineClient
from .errors import EngineUnavailable, VisionNotSupported, WorkerError
from .images import ImagePipeline, count_image_parts
from .job_input import parse_job_input
from .job_task import closed_when_task_ends
from .output import chunk_objects, job_error, sse_error_event, sse_text
from .request import EngineRequest
from .stream import engine_error_in

log = logging.getLogger(__name__)


class _JobStats:
    __slots__ = ("chunks", "image_s", "images", "started", "tokens", "ttft_s")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.images = 0
        self.image_s = 0.0
        self.ttft_s: float | None = None
        self.chunks = 0
        self.tokens: int | None = None

    def first_output(self) -> None:
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self.started


def _completion_tokens(response: Any) -> int | None:
    usage = response.get("usage") if isinstance(response, dict) else None
    return usage.get("completion_tokens") if isinstance(usage, dict) else None


def _stream_tokens(events: list[bytes]) -> int | None:
    """Completion tokens from the usage chunk a stream may end with (stream_options)."""
    for chunk in reversed(chunk_objects(events)):
        tokens = _completion_tokens(chunk)
        if tokens is not None:
            return tokens
    return None


class Worker:
    def __init__(
        self,
        info: EngineInfo,
        client: EngineClient,
        images: ImagePipeline,
        engine_alive: Callable[[], bool],
    ):
        self.info = info
        self.client = client
        self.images = images
        self.engine_alive = engine_alive

    async def close(self) -> None:
        """Release the engine connections and the image threads and sessions."""
        await self.client.close()
        await self.images.close()

    async def _prepare(self, request: EngineRequest, stats: _JobStats) -> EngineRequest:
        if request.body is None:
            return request
        stats.images = count_image_parts(request.route, request.body)
        if not stats.images:
            return request
        if not self.info.vision:
            raise VisionNotSupported(
                f"Model {self.info.served_model} does not support vision (image) inputs"
            )
        body, report = await self.images.prepare(request.route, request.body)
        stats.image_s = report.seconds
        return EngineRequest(request.route, request.method, body, request.stream,
                             request.openai_route)

    async def _stream(self, request: EngineRequest, stats: _JobStats) -> AsyncIterator[Any]:
        async with aclosing(self.client.stream(request)) as batches:
            async for events in batches:
                for index, event in enumerate(events):
                    error = engine_error_in(event)
                    if error is not None:
                        if index:
                            yield self._render(request, events[:index], stats)
                        raise error
                yield self._render(request, events, stats)

    def _render(self, request: EngineRequest, events: list[bytes], stats: _JobStats) -> Any:
        stats.first_output()
        stats.chunks += len(events)
        if b'"completion_tokens"' in events[-1] or (
            len(events) > 1 and b'"completion_tokens"' in events[-2]
        ):
            stats.tokens = _stream_tokens(events[-2:])
        return sse_text(events) if request.openai_route else chunk_objects(events)

    async def handle(self, job: dict[str, Any]) -> AsyncIterator[Any]:
        """The SDK's handler: the job's outputs, closed as soon as the job's task ends."""
        outputs = self._run(job)
        with closed_when_task_ends(outputs):
            async with aclosing(outputs):
                async for output in outputs:
                    yield output

    async def _run(self, job: dict[str, Any]) -> AsyncIterator[Any]:
        job_id = job.get("id", "?")
        stats = _JobStats()
        request: EngineRequest | None = None
        streamed = False
        outcome = "cancelled"
        try:
            if not self.engine_alive():
                raise EngineUnavailable("the SGLang engine has stopped; this worker is "
                                        "shutting down and the job should be retried")
            request = parse_job_input(job.get("input"), served_model=self.info.served_model,
                                      vocab_size=self.info.vocab_size)
            request = await self._prepare(request, stats)
            if not request.stream:
                response = await self.client.call(request)
                stats.first_output()
                stats.tokens = _completion_tokens(response)
                outcome = "ok"
                yield response
                return
            async with aclosing(self._stream(request, stats)) as outputs:
                async for output in outputs:
                    streamed = True
                    if request.openai_route:
                        yield output
                    else:
                        for chunk in output:
                            yield chunk
            outcome = "ok"
        except WorkerError as error:
            if isinstance(error, EngineUnavailable) and not self.engine_alive():
                error = EngineUnavailable("the SGLang engine died while serving this job")
            outcome = f"error:{error.status}"
            log.warning("job=%s failed: %s", job_id, error.message)
            if streamed and request is not None and request.openai_route:
                yield sse_error_event(error)
            yield job_error(error)
        except Exception:
            outcome = "error:500"
            log.exception("job=%s failed with an unexpected error", job_id)
            yield job_error(WorkerError("internal error in the worker; see the worker logs"))
        finally:
            log.info(
                "job=%s outcome=%s route=%s stream=%s images=%d image_s=%.3f ttft_s=%s chunks=%d "
                "tokens=%s total_s=%.3f",
                job_id, outcome, request.route if request else "-",
                request.stream if request else "-",
                stats.images, stats.image_s,
                f"{stats.ttft_s:.3f}" if stats.ttft_s is not None else "-",
                stats.chunks, stats.tokens if stats.tokens is not None else "-",
                time.perf_counter() - stats.started,
            )
