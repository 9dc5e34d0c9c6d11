"""The load-balancing face: the guarded OpenAI-compatible API served straight from the worker.

Contract (``WORKER_MODE=lb``; RunPod routes ``https://<ENDPOINT_ID>.api.runpod.ai/<path>``
here):
- ``GET /ping``: 204 while the worker starts (the port answers from the first second, while
  SGLang loads), 200 when it can serve, 503 once it cannot (the engine died, start-up failed,
  or the worker is shutting down), with a JSON body that says why. RunPod routes only to 200s.
- Every other path is a route for the pipeline, at ``/v1/...`` or under ``/openai/v1/...`` (a
  base URL copied from a queue endpoint keeps working). The raw request target is
  canonicalised and checked exactly as a job's ``openai_route`` is (``routes``): the same
  allowlist, so SGLang's admin routes and unknown paths are a 404, and a spelling that could
  resolve elsewhere is a 400. Read routes take GET, inference routes POST (else a 405).
- A request waits for one of ``MAX_CONCURRENCY`` slots before its body is read, at most
  ``LB_QUEUE_TIMEOUT_S``; then it gets a 429 with ``Retry-After``. So an unbounded pile of
  large image requests costs sockets, not memory. Bodies over ``LB_MAX_BODY_BYTES`` get a 413.
- Non-streaming: the engine's response as JSON, 200. Streaming: real SSE, SGLang's own events.
  The first is written the moment it comes; later ones that arrive within
  ``STREAM_BATCH_WINDOW_MS`` go out in one write (measured: per-token writes cost the worker
  and the client CPU that a loaded machine takes from TTFT), and the final ``[DONE]`` in the
  same write as the end of the body. A failure before the first event is an HTTP error; after
  it, an in-band ``data: {"error": ...}`` event and the end of the stream, without ``[DONE]``.
- Errors are OpenAI's error body at the error's HTTP status (Anthropic's on the Messages API
  routes), so the OpenAI and Anthropic SDKs raise their own exception classes. Anthropic's
  ``x-api-key`` and ``anthropic-version`` headers are accepted and ignored, like any header.
- A client that disconnects cancels its handler (the runner is made with
  ``handler_cancellation``), which closes the engine request, so SGLang aborts it.
- One log line per request, like a job's: request id, outcome, route, stream, then the
  pipeline's ``RequestStats``. Never content, image data or secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiohttp import web

from sglang_worker.engine.client import EngineRequest, encode_json
from sglang_worker.errors import ErrorShape, WorkerError, sse_error_event
from sglang_worker.http.body import read_json
from sglang_worker.http.responses import SSEWriter, error_response, json_response
from sglang_worker.pipeline import Pipeline, RequestStats
from sglang_worker.routes import Route, parse_route
from sglang_worker.settings import Settings
from sglang_worker.sse import DONE_EVENT

log = logging.getLogger(__name__)
PING = "/ping"
BUSY_RETRY_AFTER_S = "2"
STARTING_RETRY_AFTER_S = "5"


class LoadBalancingApp:
    """The HTTP API and its health state. ``ready(pipeline)`` once the engine serves;
    ``unhealthy(cause)`` once it cannot; ``in_flight`` counts requests being answered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline: Pipeline | None = None
        self.cause: str | None = None  # why the worker cannot serve, once it cannot
        self.in_flight = 0
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    def ready(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def unhealthy(self, cause: str) -> None:
        if self.cause is None:
            self.cause = cause

    def starting(self) -> bool:
        return self.cause is None and self.pipeline is None

    def healthy(self) -> bool:
        return self.cause is None and self.pipeline is not None and self.pipeline.engine_alive()

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is in flight; False if some still are after ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        return self.in_flight == 0

    def application(self, *, health_only: bool = False) -> web.Application:
        app = web.Application()
        app.router.add_get(PING, self.ping)
        if not health_only:
            app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def ping(self, _request: web.Request) -> web.Response:
        if self.healthy():
            return web.json_response({"status": "ready"})
        if self.starting():
            return web.Response(status=204)
        cause = self.cause or "the SGLang engine has stopped"
        return web.json_response({"status": "unhealthy", "message": cause}, status=503)

    def _unavailable(self) -> web.Response | None:
        if self.healthy():
            return None
        if self.starting():
            return error_response(503, "the worker is starting: SGLang is loading the model; "
                                  "retry shortly", headers={"Retry-After": STARTING_RETRY_AFTER_S})
        return error_response(503, self.cause or "the SGLang engine has stopped")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            route = parse_route(request.raw_path)
        except WorkerError as error:
            return _error(error)
        if request.method != ("GET" if route.read else "POST"):
            return error_response(405, f"{route.path} takes {'GET' if route.read else 'POST'}, "
                                  f"not {request.method}", shape=route.error_shape)
        unavailable = self._unavailable()
        if unavailable is not None:
            return unavailable
        try:
            async with asyncio.timeout(self.settings.lb_queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            limit = self.settings.max_concurrency
            return error_response(
                429, f"the worker is at its limit of {limit} requests in flight "
                "(MAX_CONCURRENCY); retry shortly or add workers",
                headers={"Retry-After": BUSY_RETRY_AFTER_S}, shape=route.error_shape)
        self.in_flight += 1
        self._idle.clear()
        try:
            return await self._serve(request, route)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()
            self._slots.release()

    async def _serve(self, request: web.Request, route: Route) -> web.StreamResponse:
        pipeline = self.pipeline
        assert pipeline is not None
        request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
        stats = RequestStats()
        engine_request: EngineRequest | None = None
        outcome = "cancelled"
        try:
            body: dict[str, Any] | None = None
            if not route.read:
                body = await read_json(request, self.settings.lb_max_body_bytes,
                                       f"POST {route.path}")
            engine_request = pipeline.build(route, body)
            if engine_request.stream:
                response, outcome = await self._stream(request, pipeline, engine_request, stats,
                                                       route.error_shape)
                return response
            answer = await pipeline.call(engine_request, stats)
            outcome = "ok"
            return web.Response(body=encode_json(answer), content_type="application/json")
        except WorkerError as error:
            outcome = f"error:{error.status}"
            log.warning("request=%s failed: %s", request_id, error.message)
            return _error(error, route.error_shape)
        except Exception:
            outcome = "error:500"
            log.exception("request=%s failed with an unexpected error", request_id)
            return _error(WorkerError("internal error in the worker; see the worker logs"),
                          route.error_shape)
        finally:
            log.info("request=%s outcome=%s route=%s stream=%s %s", request_id, outcome,
                     route.path,
                     engine_request.stream if engine_request else "-", stats.summary())

    async def _stream(self, request: web.Request, pipeline: Pipeline,
                      engine_request: EngineRequest, stats: RequestStats,
                      shape: ErrorShape) -> tuple[web.StreamResponse, str]:
        writer = SSEWriter(request)
        try:
            async with aclosing(_event_bytes(pipeline, engine_request, stats)) as chunks:
                async for chunk in chunks:
                    if writer.finished:
                        log.warning("the engine sent %d bytes after [DONE]; the stream had "
                                    "ended, so they were not sent", len(chunk))
                    elif chunk.endswith(DONE_EVENT):
                        await writer.finish(chunk)
                    else:
                        await writer.write(chunk)
        except WorkerError as error:
            if not writer.started:
                raise
            log.warning("stream failed after its first event: %s", error.message)
            if not writer.finished:  # after [DONE] the client has its whole answer
                await writer.write(sse_error_event(error, shape).encode())
            return await writer.finish(), f"error:{error.status}"
        if not writer.started:  # the engine ended the stream without one event
            raise WorkerError("the engine ended the stream before sending anything")
        return await writer.finish(), "ok"


async def _event_bytes(pipeline: Pipeline, request: EngineRequest,
                       stats: RequestStats) -> AsyncIterator[bytes]:
    async with aclosing(pipeline.events(request, stats)) as batches:
        async for events in batches:
            yield b"".join(events)


def _error(error: WorkerError, shape: ErrorShape = "openai") -> web.Response:
    return json_response(error.status, error.to_body(shape))
