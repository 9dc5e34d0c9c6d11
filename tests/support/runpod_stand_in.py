"""A loopback stand-in for RunPod's worker-facing job API, for running the SDK's real job loop.

It serves what ``runpod.serverless`` (1.12) calls when ``RUNPOD_WEBHOOK_*`` point at it:
job-take (single and batch, long-polled), job-stop (per-job cancel), job-stream and job-done,
and records every POST. ``worker_env()`` gives the variables a worker process needs.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from aiohttp import web

POLL_S = 0.5


class RunPodStandIn:
    def __init__(self) -> None:
        self.pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.to_stop: list[str] = []
        self.streamed: dict[str, list[Any]] = defaultdict(list)
        self.done: dict[str, dict[str, Any]] = {}
        self._done_events: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/job-take/{worker}", self._take)
        app.router.add_get("/job-take-batch/{worker}", self._take)
        app.router.add_get("/job-stop/{worker}", self._stop)
        app.router.add_post("/job-stream/{worker}/{job}", self._stream)
        app.router.add_post("/job-done/{worker}/{job}", self._done)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def worker_env(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "RUNPOD_WEBHOOK_GET_JOB": f"{base}/job-take/$ID?gpu=none",
            "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=none",
            "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=none",
            "RUNPOD_POD_ID": "stand-in-worker",
            "RUNPOD_SKIP_GPU_CHECK": "true",
            "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        }

    def submit(self, job_id: str, job_input: Any) -> None:
        self.pending.put_nowait({"id": job_id, "input": job_input})

    async def wait_done(self, job_id: str, timeout: float) -> dict[str, Any]:
        await asyncio.wait_for(self._done_events[job_id].wait(), timeout)
        return self.done[job_id]

    async def _take(self, request: web.Request) -> web.Response:
        batch = int(request.query.get("batch_size", "1"))
        try:
            jobs = [await asyncio.wait_for(self.pending.get(), POLL_S)]
        except TimeoutError:
            return web.Response(status=204)
        while len(jobs) < batch and not self.pending.empty():
            jobs.append(self.pending.get_nowait())
        if "job-take-batch" in request.path:
            return web.json_response(jobs)
        return web.json_response(jobs[0])

    async def _stop(self, request: web.Request) -> web.Response:
        if not self.to_stop:
            await asyncio.sleep(POLL_S)
            return web.Response(status=204)
        ids, self.to_stop = self.to_stop, []
        return web.json_response({"jobsToStop": ids})

    async def _stream(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.text())
        self.streamed[request.match_info["job"]].append(payload.get("output"))
        return web.json_response({})

    async def _done(self, request: web.Request) -> web.Response:
        job = request.match_info["job"]
        self.done[job] = json.loads(await request.text())
        self._done_events[job].set()
        return web.json_response({})
