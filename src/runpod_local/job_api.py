"""RunPod's worker-facing job API on loopback: what ``runpod.serverless`` (1.12) calls when
``RUNPOD_WEBHOOK_*`` point here, so the SDK's real job loop runs unchanged.

Contract (``{worker}`` is the worker id the SDK puts in the URL, ``{job}`` a job id):
- ``GET /job-take/{worker}``: long-polls up to ``poll_s`` for one queued job. 200 with
  ``{"id", "input"}``, or 204 when none came.
- ``GET /job-take-batch/{worker}?batch_size=N``: the same, up to N jobs, as a JSON list.
- ``GET /job-stop/{worker}``: long-polls for jobs to stop (cancelled or timed out). 200 with
  ``{"jobsToStop": [ids]}`` or 204; the SDK then cancels those jobs' tasks.
- ``POST /job-stream/{worker}/{job}``: one yield of the handler, ``{"output": x}``.
- ``POST /job-done/{worker}/{job}``: the job's result, ``{"output": ...}`` or
  ``{"error": ...}``.
  The SDK sends both POSTs as JSON text with a form content type; they are read as JSON
  whatever the header says, and answered 200 even for a job already stopped (the SDK would
  only retry otherwise).
- ``worker_env()`` gives the variables that point a worker process at this API, in the forms
  the SDK expects (``$ID`` and ``$RUNPOD_POD_ID`` placeholders, a query string it appends to),
  plus the switches that skip its hardware checks.
- Only 127.0.0.1 is served; there is no authentication.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from runpod_local.board import JobBoard
from sglang_worker.errors import InvalidRequest
from sglang_worker.http.body import parse_json_object

POLL_S = 5.0  # long-poll hold: bounds how long a SIGTERMed SDK loop takes to notice
MAX_POST_BYTES = 1024 * 1024 * 1024  # a job-done carries every yield; loopback and trusted
WORKER_ID = "local-worker"


class WorkerJobAPI:
    def __init__(self, board: JobBoard, *, poll_s: float = POLL_S) -> None:
        self.board = board
        self.poll_s = poll_s
        self.base_url = ""
        self.app = web.Application(client_max_size=MAX_POST_BYTES)
        self.app.router.add_get("/job-take/{worker}", self._take)
        self.app.router.add_get("/job-take-batch/{worker}", self._take_batch)
        self.app.router.add_get("/job-stop/{worker}", self._stop)
        self.app.router.add_post("/job-stream/{worker}/{job}", self._stream)
        self.app.router.add_post("/job-done/{worker}/{job}", self._done)
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port`` 0 picks a free one); returns the base URL."""
        # A poll the SDK drops must not take jobs it will never see: cancel its handler.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{bound}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def worker_env(self) -> dict[str, str]:
        base = self.base_url
        return {
            "RUNPOD_WEBHOOK_GET_JOB": f"{base}/job-take/$ID?runtime=local",
            "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/job-done/$RUNPOD_POD_ID/$ID?runtime=local",
            "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/job-stream/$RUNPOD_POD_ID/$ID?runtime=local",
            "RUNPOD_POD_ID": WORKER_ID,
            "RUNPOD_SKIP_GPU_CHECK": "true",
            "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        }

    async def _take(self, request: web.Request) -> web.Response:
        jobs = await self.board.take(1, worker_id=request.match_info["worker"],
                                     timeout=self.poll_s)
        return web.json_response(jobs[0]) if jobs else web.Response(status=204)

    async def _take_batch(self, request: web.Request) -> web.Response:
        try:
            size = max(1, int(request.query.get("batch_size", "1")))
        except ValueError:
            size = 1
        jobs = await self.board.take(size, worker_id=request.match_info["worker"],
                                     timeout=self.poll_s)
        return web.json_response(jobs) if jobs else web.Response(status=204)

    async def _stop(self, request: web.Request) -> web.Response:
        ids = await self.board.stop_ids(timeout=self.poll_s)
        return web.json_response({"jobsToStop": ids}) if ids else web.Response(status=204)

    async def _stream(self, request: web.Request) -> web.Response:
        payload = await _json_payload(request)
        self.board.record_stream(request.match_info["job"], payload.get("output"))
        return web.json_response({})

    async def _done(self, request: web.Request) -> web.Response:
        self.board.finish(request.match_info["job"], await _json_payload(request))
        return web.json_response({})


async def _json_payload(request: web.Request) -> dict[str, Any]:
    try:
        return parse_json_object(await request.read())
    except InvalidRequest as exc:
        raise web.HTTPBadRequest(text=exc.message) from None
