"""RunPod's OpenAI-compatible route, served by the local endpoint: ``/openai/v1/...`` (also
under ``/v2/<any endpoint id>/``), answered like an OpenAI server.

Contract:
- ``POST /openai/v1/chat/completions``, ``POST /openai/v1/completions``, ``GET
  /openai/v1/models`` (and any other path under ``/openai/v1``: the worker's route allowlist
  decides) become the job RunPod builds, ``{"openai_route": "/v1/...", "openai_input": body}``
  (``openai_relay.openai_job_input``), run by the worker like any job. The route is the raw
  request target, not aiohttp's decoded path, so the worker sees what the client sent.
- ``"stream": true``: an SSE response whose bytes are the worker's yields, each written to the
  client the moment the worker's job-stream POST arrives. The response starts with the first
  yield, so a job that fails before it still gets a proper HTTP error.
- Otherwise: the worker's one yield as JSON, once the job finished.
- A failed job is an HTTP error with OpenAI's ``{"error": {...}}`` body, status from the job
  error's ``code`` (``openai_relay.openai_answer``), so the OpenAI SDK raises the matching
  exception class.
- Body limit 20 MB (``request_body.OPENAI_LIMIT``; RunPod documents none for this route): a
  larger body gets a 413 with OpenAI's error body. Malformed JSON gets a 400.
- Every error above, the endpoint's own included, takes the route's shape
  (``openai_relay.error_shape_of``, from the canonical route): on Anthropic's Messages API
  routes (``/openai/v1/messages`` and its ``/count_tokens``) Anthropic's body at the same
  status, and a stream cut short ends with Anthropic's ``event: error``
  (``openai_relay.stream_epilogue``), so the Anthropic SDK raises its own exception classes;
  on SGLang's retrieval routes SGLang's top-level body.
- A client that disconnects (streaming or not) cancels its job through job-stop, so the
  worker's handler is cancelled and SGLang aborts the generation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from runpod_local.board import JobBoard
from runpod_local.jobs import STOPPED_STATUSES, Job
from runpod_local.openai_relay import (
    error_shape_of,
    openai_answer,
    openai_job_input,
    openai_route_of,
    stream_epilogue,
)
from runpod_local.public_api import PREFIXES, cancel_on_disconnect
from runpod_local.request_body import OPENAI_LIMIT
from sglang_worker.errors import ErrorShape, InvalidRequest
from sglang_worker.http.body import read_json
from sglang_worker.http.responses import (
    NO_RETRY,
    SSEWriter,
    error_response,
    json_response,
    sse_bytes,
)


class OpenAIRoutes:
    def __init__(self, board: JobBoard) -> None:
        self.board = board

    def add_routes(self, app: web.Application) -> None:
        for prefix in PREFIXES:
            for method in ("GET", "POST"):
                app.router.add_route(method, prefix + r"/openai/{path:v1(?:[/\\].*)?}",
                                     self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = openai_route_of(request.raw_path)
        shape = error_shape_of(route) if route is not None else "openai"
        body: dict[str, Any] | None = None
        if request.method == "POST":
            try:
                body = await read_json(request, OPENAI_LIMIT, f"POST {request.path}")
            except InvalidRequest as exc:
                return error_response(exc.status, exc.message, shape=shape)
        if route is None:  # routed here on the decoded path, but the raw target differs
            return error_response(404, f"no route {request.path}")
        job_input = openai_job_input(route, request.method, body)
        job = self.board.submit(job_input, sync=True)
        if body is not None and body.get("stream") is True:
            return await cancel_on_disconnect(self.board, job,
                                              self._relay(request, job, shape))
        await cancel_on_disconnect(self.board, job, self.board.wait_final(job, None))
        return self._answer(job, shape)

    def _answer(self, job: Job, shape: ErrorShape) -> web.Response:
        status, body = openai_answer(job, shape)
        return json_response(status, body, NO_RETRY if job.status in STOPPED_STATUSES else None)

    async def _streamed(self, job: Job) -> AsyncIterator[bytes]:
        """The job's yields as SSE bytes, as each job-stream POST of the worker arrives."""
        sent = 0
        while True:
            version = job.version
            new = job.streamed[sent:]
            if new:
                sent += len(new)
                yield b"".join(sse_bytes(output) for output in new)
            if job.final:
                return
            await self.board.wait_change(job, version, None)

    async def _relay(self, request: web.Request, job: Job,
                     shape: ErrorShape) -> web.StreamResponse:
        writer = SSEWriter(request)
        async for chunk in self._streamed(job):
            await writer.write(chunk)
        if not writer.started:
            return self._answer(job, shape)
        epilogue = stream_epilogue(job, shape)
        if epilogue:
            await writer.write(epilogue)
        return await writer.finish()
