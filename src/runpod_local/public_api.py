"""RunPod's public job API, served by the local endpoint: ``/run``, ``/runsync``, ``/status``,
``/stream``, ``/cancel``, ``/purge-queue`` and ``/health``, under both ``/v2/<any endpoint
id>/`` and bare paths.

Contract (shapes and statuses as RunPod documents them; ``jobs.py`` builds the bodies):
- ``POST /run`` ``{"input": ...}`` -> ``{"id", "status": "IN_QUEUE"}``. Body limit 10 MB.
  ``webhook`` and ``policy`` are accepted and ignored.
- ``POST /runsync`` -> the finished job's status body (``output`` or ``error``,
  ``delayTime``, ``executionTime``). If the job has not finished after the wait
  (``LOCAL_ENDPOINT_RUNSYNC_WAIT_S``, 90 s like RunPod; ``?wait=<ms>`` overrides it, clamped to
  1000..300000), the answer is ``{"id", "status": "IN_QUEUE" | "IN_PROGRESS"}`` and the job
  goes on: poll ``/status``. Body limit 20 MB. A client that disconnects while waiting cancels
  its job.
- ``GET|POST /status/{id}`` -> the status body. ``GET|POST /stream/{id}`` -> ``{"id",
  "status", "stream": [{"output": ...}, ...]}`` with the outputs streamed since the previous
  poll; when there is nothing new yet it waits up to ``STREAM_WAIT_S`` for some.
- ``POST /cancel/{id}`` -> ``{"id", "status"}``: CANCELLED for a queued or running job (a
  running one is stopped through job-stop, so the handler sees a cancel); a finished job keeps
  its status.
- ``POST /purge-queue`` -> ``{"removed": N, "status": "completed"}``: every queued job is
  removed from the queue, jobs in progress go on. RunPod documents no status for a purged
  job; here it is CANCELLED (its ``/status`` says so until it is forgotten), a status the
  runpod SDK's ``Job.status()``/``output()`` loop treats as final, so nothing waits forever:
  a ``/runsync`` waiting on a purged job answers its CANCELLED status body at once, an OpenAI
  request the 409 of a cancelled job.
- ``GET /health`` -> ``{"jobs": {...}, "workers": {...}}``.
- Errors: unknown job 404, malformed body 400, oversized body 413, each ``{"error": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from runpod_local.board import JobBoard
from runpod_local.jobs import Job, status_view, stream_view
from runpod_local.request_body import RUN_LIMIT, RUNSYNC_LIMIT, SMALL_LIMIT, runsync_wait_s
from sglang_worker.errors import BodyTooLarge, InvalidRequest
from sglang_worker.http.body import parse_json_object, read_within
from sglang_worker.http.responses import on_disconnect

PREFIXES = ("", "/v2/{endpoint_id}")
STREAM_WAIT_S = 1.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


def json_error(cls: type[web.HTTPError], message: str, **kwargs: Any) -> web.HTTPError:
    """An HTTP error whose body is ``{"error": message}``."""
    return cls(text=json.dumps({"error": message}, ensure_ascii=False),
               content_type="application/json", **kwargs)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, or a 413 naming the limit of this route."""
    try:
        return await read_within(request, limit, f"{request.method} {request.path}")
    except BodyTooLarge as exc:
        raise json_error(web.HTTPRequestEntityTooLarge, exc.message, max_size=limit,
                         actual_size=request.content_length or limit + 1) from None


def cancel_on_disconnect(board: JobBoard, job: Job, awaitable: Awaitable[T]) -> Awaitable[T]:
    """Await ``awaitable``; if the request goes away first, cancel the job."""
    return on_disconnect(awaitable, lambda: job.final or board.cancel(job.id))


class PublicJobAPI:
    def __init__(self, board: JobBoard, *, runsync_wait_s: float) -> None:
        self.board = board
        self.default_wait_s = runsync_wait_s

    def add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/run", self.run),
            ("POST", "/runsync", self.runsync),
            ("GET", "/status/{job_id}", self.status),
            ("POST", "/status/{job_id}", self.status),
            ("GET", "/stream/{job_id}", self.stream),
            ("POST", "/stream/{job_id}", self.stream),
            ("POST", "/cancel/{job_id}", self.cancel),
            ("POST", "/purge-queue", self.purge_queue),
            ("GET", "/health", self.health),
        ]
        for prefix in PREFIXES:
            for method, path, handler in routes:
                app.router.add_route(method, prefix + path, handler)

    async def _job_input(self, request: web.Request, limit: int) -> Any:
        try:
            body = parse_json_object(await read_limited(request, limit))
        except InvalidRequest as exc:
            raise json_error(web.HTTPBadRequest, exc.message) from None
        if "input" not in body:
            raise json_error(web.HTTPBadRequest, 'the request body needs an "input" key')
        return body["input"]

    def _job(self, request: web.Request) -> Job:
        job = self.board.get(request.match_info["job_id"])
        if job is None:
            raise json_error(web.HTTPNotFound,
                             f"job {request.match_info['job_id']} does not exist (results are "
                             "kept 30 minutes after /run, 1 minute after /runsync)")
        return job

    async def run(self, request: web.Request) -> web.Response:
        job = self.board.submit(await self._job_input(request, RUN_LIMIT))
        return web.json_response({"id": job.id, "status": job.status.value})

    async def runsync(self, request: web.Request) -> web.Response:
        job_input = await self._job_input(request, RUNSYNC_LIMIT)
        wait_s = runsync_wait_s(request.query.get("wait"), self.default_wait_s)
        job = self.board.submit(job_input, sync=True)
        if await cancel_on_disconnect(self.board, job, self.board.wait_final(job, wait_s)):
            return web.json_response(status_view(job))
        return web.json_response({"id": job.id, "status": job.status.value})

    async def status(self, request: web.Request) -> web.Response:
        await read_limited(request, SMALL_LIMIT)
        return web.json_response(status_view(self._job(request)))

    async def stream(self, request: web.Request) -> web.Response:
        await read_limited(request, SMALL_LIMIT)
        job = self._job(request)
        outputs = self.board.read_stream(job.id)
        if not outputs and not job.final:
            await self.board.wait_change(job, job.version, STREAM_WAIT_S)
            outputs = self.board.read_stream(job.id)
        return web.json_response(stream_view(job, outputs))

    async def cancel(self, request: web.Request) -> web.Response:
        await read_limited(request, SMALL_LIMIT)
        job = self._job(request)
        self.board.cancel(job.id)
        return web.json_response({"id": job.id, "status": job.status.value})

    async def purge_queue(self, request: web.Request) -> web.Response:
        await read_limited(request, SMALL_LIMIT)
        return web.json_response({"removed": self.board.purge_queue(), "status": "completed"})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(self.board.health())

