"""``python -m runpod_local [--port N]`` (``make serve``): the local endpoint's
lifecycle.

Contract:
- Starts, in this order: the worker-facing job API on a free loopback port, the public API
  (RunPod's job routes and the OpenAI route) on ``127.0.0.1:<port>`` (``--port``, else
  ``LOCAL_ENDPOINT_PORT``, 8000), then the worker process (``runner``). Requests are accepted
  at once and queue, as on RunPod during a cold start; ``/health`` shows the worker as
  ``initializing`` until it first polls for jobs, which it does once its engine is healthy.
  Then a ready line with the URLs is logged.
- If the worker exits by itself, before or after it was ready, its exit code and last output
  are logged, every unfinished job fails with a 503 error, and the endpoint exits 1.
- SIGTERM or SIGINT: job-take stops handing out jobs, the signal is forwarded to the worker,
  which finishes its jobs in flight (up to ``LOCAL_ENDPOINT_STOP_TIMEOUT_S``, then it is
  killed; a second signal kills it at once) and stops its engine; jobs still queued fail; the
  endpoint exits 0. The worker never outlives the endpoint.
- Exit codes: 0 stopped on request, 1 the worker failed, 2 bad usage (the port is taken).
- Its own variables (``LOCAL_ENDPOINT_*``) are read by ``runpod_local.settings``; the log level
  is the worker's ``WORKER_LOG_LEVEL``, so the endpoint and its worker log alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web

from runpod_local.board import JobBoard
from runpod_local.job_api import WorkerJobAPI
from runpod_local.openai_routes import OpenAIRoutes
from runpod_local.public_api import PublicJobAPI
from runpod_local.runner import WorkerProcess
from runpod_local.settings import LocalSettings
from sglang_worker.settings import get_settings

log = logging.getLogger("runpod_local")


def public_app(board: JobBoard, settings: LocalSettings) -> web.Application:
    # client_max_size is not the limit: each route counts its own body (request_body).
    app = web.Application()
    PublicJobAPI(board, runsync_wait_s=settings.runsync_wait_s).add_routes(app)
    OpenAIRoutes(board).add_routes(app)
    return app


class LocalEndpoint:
    def __init__(self, settings: LocalSettings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.board = JobBoard(execution_timeout_s=settings.execution_timeout_s)
        self.job_api = WorkerJobAPI(self.board)
        self.worker = WorkerProcess()
        self._stop = asyncio.Event()
        self._signals = 0
        self._runner: web.AppRunner | None = None

    def on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("stopping (%s): the worker finishes its jobs in flight; press Ctrl-C "
                     "again to stop at once", signal.Signals(signum).name)
            self.board.close_intake()
            self.worker.signal(signum)
            self._stop.set()
        else:
            log.warning("killing the worker now")
            self.worker.kill()

    async def serve(self) -> int:
        housekeeping = asyncio.create_task(self.board.housekeeping())
        try:
            await self.job_api.start()
            self._runner = web.AppRunner(public_app(self.board, self.settings),
                                         access_log=None, handler_cancellation=True,
                                         shutdown_timeout=2.0)
            await self._runner.setup()
            try:
                await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            except OSError as exc:
                log.error("cannot listen on 127.0.0.1:%d: %s (choose another port: "
                          "make serve PORT=8001)", self.port, exc.strerror or exc)
                return 2
            await self.worker.start(self.job_api.worker_env())
            log.info("local endpoint on http://127.0.0.1:%d; starting the worker (pid %d), "
                     "requests queue until it is ready", self.port, self.worker.pid)
            return await self._run()
        finally:
            housekeeping.cancel()
            if self.worker.running:
                self.worker.kill()
                await self.worker.wait()
            if self._runner is not None:
                await self._runner.cleanup()
            await self.job_api.close()

    async def _run(self) -> int:
        exited = asyncio.create_task(self.worker.wait())
        ready = asyncio.create_task(self.board.worker_ready.wait())
        stop = asyncio.create_task(self._stop.wait())
        await asyncio.wait({exited, ready, stop}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and not exited.done() and not stop.done():
            base = f"http://127.0.0.1:{self.port}"
            log.info("ready: RunPod job API at %s (/run, /runsync, /status/<id>, /stream/<id>, "
                     "/cancel/<id>, /health; also under %s/v2/<any id>/); OpenAI SDK "
                     "base_url=%s/openai/v1", base, base, base)
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if stop.done():
            code = await self._drain(exited)
            self.board.fail_unfinished("the local endpoint stopped before the job finished")
            log.info("stopped (worker exit code %s)", code)
            return 0
        stop.cancel()
        code = exited.result()
        when = "while serving" if self.board.worker_ready.is_set() else "before it was ready"
        self.board.fail_unfinished(f"the worker exited with code {code} {when}")
        log.error("the worker exited with code %s %s. Its last output:\n%s", code, when,
                  self.worker.tail())
        await asyncio.sleep(0.2)  # let waiting requests send their 503
        return 1

    async def _drain(self, exited: asyncio.Task[int]) -> int:
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(exited),
                                          self.settings.stop_timeout_s)
        log.warning("the worker did not stop within %.0f s (LOCAL_ENDPOINT_STOP_TIMEOUT_S); "
                    "killing it", self.settings.stop_timeout_s)
        self.worker.kill()
        return await exited


def _parse_args(argv: list[str], settings: LocalSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runpod_local",
        description="Run the worker as RunPod would, behind RunPod's endpoint API on loopback.")
    parser.add_argument("--port", type=int, default=settings.port,
                        help="port on 127.0.0.1 (default: LOCAL_ENDPOINT_PORT, 8000)")
    return parser.parse_args(argv)


async def _main(settings: LocalSettings, port: int) -> int:
    endpoint = LocalEndpoint(settings, port)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, endpoint.on_signal, signum)
    return await endpoint.serve()


def main(argv: list[str] | None = None) -> int:
    settings = LocalSettings()
    logging.basicConfig(stream=sys.stderr, level=get_settings().worker_log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parse_args(sys.argv[1:] if argv is None else argv, settings)
    return asyncio.run(_main(settings, args.port))


if __name__ == "__main__":
    sys.exit(main())
