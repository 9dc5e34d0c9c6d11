"""The RunPod handler: one job in, its output yields out (the SDK face of the pipeline).

Contract:
- ``Worker.handle`` is an async generator (the SDK streams it and runs one task per job). The
  job's way: ``jobs.input.job_shape`` (the route decided once) -> ``Pipeline.build`` ->
  ``Pipeline.call`` or ``Pipeline.events`` -> the yields of ``jobs.output``'s contract (raw
  SSE text on the OpenAI route, parsed chunk objects on the native shapes).
- On Anthropic's Messages API routes the job error (and an in-band stream error) takes
  Anthropic's error shape (``Route.error_shape``, from the route as decided at the door), so a
  client reading the failed job's body parses it as its SDK does.
- Every failure ends the job through that contract; nothing escapes as an exception, so the
  SDK never reports a traceback for a user's mistake. Unexpected bugs are logged with their
  traceback on the worker side only and reported to the user as an internal error.
- Cancellation (RunPod's per-job cancel) propagates as ``CancelledError``; the engine request
  is closed on the way out, so SGLang aborts the generation. A cancel that lands in the SDK
  while it posts a yield (outside this generator) closes it too: the job's output is tied to
  the job's task (``jobs.task``), so the abort never waits for garbage collection.
- One log line per job: job id, outcome, route, stream, then ``RequestStats.summary()``
  (images and their preparation time, time to first token, chunks, tokens, total time).
  Never request content, image data or secrets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from sglang_worker.engine.client import EngineRequest
from sglang_worker.engine.server import Engine, EngineInfo
from sglang_worker.errors import WorkerError, sse_error_event
from sglang_worker.jobs.input import JobShape, job_shape
from sglang_worker.jobs.output import job_error
from sglang_worker.jobs.task import closed_when_task_ends
from sglang_worker.pipeline import Pipeline, RequestStats, make_pipeline
from sglang_worker.pipeline.stream import chunk_objects, sse_text
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    async def close(self) -> None:
        await self.pipeline.close()

    async def handle(self, job: dict[str, Any]) -> AsyncIterator[Any]:
        """The SDK's handler: the job's outputs, closed as soon as the job's task ends."""
        outputs = self._run(job)
        with closed_when_task_ends(outputs):
            async with aclosing(outputs):
                async for output in outputs:
                    yield output

    async def _outputs(self, request: EngineRequest, stats: RequestStats,
                       openai: bool) -> AsyncIterator[Any]:
        if not request.stream:
            yield await self.pipeline.call(request, stats)
            return
        async with aclosing(self.pipeline.events(request, stats)) as batches:
            async for events in batches:
                if openai:
                    yield sse_text(events)
                else:
                    for chunk in chunk_objects(events):
                        yield chunk

    async def _run(self, job: dict[str, Any]) -> AsyncIterator[Any]:
        job_id = job.get("id", "?")
        stats = RequestStats()
        shape: JobShape | None = None
        request: EngineRequest | None = None
        streamed = False
        outcome = "cancelled"
        try:
            shape = job_shape(job.get("input"))
            self.pipeline.check_alive()
            request = self.pipeline.build(shape.route, shape.body())
            async with aclosing(self._outputs(request, stats, shape.openai)) as outputs:
                async for output in outputs:
                    streamed = request.stream
                    yield output
            outcome = "ok"
        except WorkerError as error:
            outcome = f"error:{error.status}"
            log.warning("job=%s failed: %s", job_id, error.message)
            errors = shape.route.error_shape if shape is not None else "openai"
            if streamed and shape is not None and shape.openai:
                yield sse_error_event(error, errors)
            yield job_error(error, errors)
        except Exception:
            outcome = "error:500"
            log.exception("job=%s failed with an unexpected error", job_id)
            yield job_error(WorkerError("internal error in the worker; see the worker logs"),
                            shape.route.error_shape if shape is not None else "openai")
        finally:
            log.info("job=%s outcome=%s route=%s stream=%s %s", job_id, outcome,
                     shape.route.path if shape else "-", request.stream if request else "-",
                     stats.summary())


def make_worker(settings: Settings, info: EngineInfo, engine: Engine) -> Worker:
    """The job face of a started engine."""
    return Worker(make_pipeline(settings, info, engine))
