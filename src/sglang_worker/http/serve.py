"""The load-balancing worker's lifecycle: listen first, start the engine, serve, drain, stop.

Contract (``run(settings)``, run by ``main`` when ``WORKER_MODE=lb``; ``serve(settings, start)``
with the engine's start given, for tests):
- The API listens on ``LB_HOST:PORT`` (and ``/ping`` on ``PORT_HEALTH`` too, when it differs)
  before the engine starts, so ``/ping`` answers 204 from the first second while ``start()``
  (the blocking engine launch, in a daemon thread) loads the model. A port that cannot be
  bound exits 2.
- ``start()`` returning: ``/ping`` turns 200 and requests are served. Raising a
  ``StartupError``: the one policy of both modes (``engine.start_failure.failed_start``): it
  is logged and its ``exit_code`` returned, at once when a restart may fix it; when it will
  not, only after ``START_FAILURE_HOLD_S``, during which ``/ping`` and every request get a 503
  whose body gives the cause and what to change (a signal ends the hold early).
- The engine dying while serving: ``/ping`` turns 503 at once (with the cause), requests in
  flight fail with a clear error as their engine connections drop, and once they are answered
  (or ``ENGINE_DEATH_GRACE_S`` passed), and at least ``DEATH_LINGER_S`` after the death, so
  that RunPod's health check reads the 503 rather than a refused connection, ``serve`` returns
  1 and RunPod replaces the worker.
- SIGTERM or SIGINT: stop listening, let requests in flight finish (up to
  ``LB_DRAIN_TIMEOUT_S``), close the pipeline, stop the engine, return 0. A signal during
  start-up returns 0 at once; the engine dies with the worker (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sglang_worker.engine.server import Engine, launch_engine
from sglang_worker.engine.start_failure import failed_start
from sglang_worker.errors import StartupError
from sglang_worker.http.app import LoadBalancingApp
from sglang_worker.pipeline import Pipeline, make_pipeline
from sglang_worker.pipeline.runner import ENGINE_DEATH_GRACE_S
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)
DEATH_LINGER_S = 2.0


def _in_daemon_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run ``fn`` in a daemon thread: a signal during start-up need not wait for it.

    The thread then stays, idle, for the rest of the process: the engine is tied to its
    parent with ``PR_SET_PDEATHSIG``, which fires when the *thread* that started it ends, not
    the process. A thread that returned would SIGTERM the engine the moment it was ready."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run() -> None:
        try:
            result = fn()
        except BaseException as error:  # handed to the loop, which re-raises it
            loop.call_soon_threadsafe(settle, None, error)
        else:
            loop.call_soon_threadsafe(settle, result, None)
        threading.Event().wait()  # keep the engine's parent thread alive (see above)

    threading.Thread(target=run, name="engine-start", daemon=True).start()
    return future


async def _listen(app: LoadBalancingApp, settings: Settings) -> list[web.AppRunner]:
    ports = [(settings.port, False)]
    if settings.port_health not in (None, settings.port):
        ports.append((settings.port_health, True))
    runners = []
    for port, health_only in ports:
        runner = web.AppRunner(app.application(health_only=health_only), access_log=None,
                               handler_cancellation=True, shutdown_timeout=5.0)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, settings.lb_host, port).start()
    log.info("load-balancing mode: the API listens on %s:%d (/ping on port %d)",
             settings.lb_host, settings.port, settings.port_health or settings.port)
    return runners


async def serve(settings: Settings, start: Callable[[], tuple[Engine, Pipeline]]) -> int:
    loop = asyncio.get_running_loop()
    app = LoadBalancingApp(settings)
    try:
        runners = await _listen(app, settings)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.lb_host, settings.port, exc)
        return 2
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    engine: Engine | None = None
    pipeline: Pipeline | None = None
    stop_wait = asyncio.ensure_future(stopping.wait())
    died = asyncio.Event()
    died_wait = asyncio.ensure_future(died.wait())
    try:
        starting = _in_daemon_thread(start)
        await asyncio.wait([starting, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            log.info("stopped during start-up")
            return 0
        try:
            engine, pipeline = starting.result()
        except StartupError as error:
            failed = failed_start(error, settings, deployed=True)
            failed.log()
            if failed.hold_s:
                app.unhealthy(failed.not_started().message)
                await asyncio.wait([stop_wait], timeout=failed.hold_s)
            return failed.exit_code
        engine.watch(lambda _code: loop.call_soon_threadsafe(died.set))
        app.ready(pipeline)
        log.info("ready: serving the OpenAI API")
        await asyncio.wait([stop_wait, died_wait], return_when=asyncio.FIRST_COMPLETED)
        if died.is_set():
            app.unhealthy("the SGLang engine died; this worker is shutting down")
            log.error("the SGLang engine exited while serving; failing requests and exiting")
            await asyncio.gather(app.wait_idle(ENGINE_DEATH_GRACE_S),
                                 asyncio.sleep(DEATH_LINGER_S))
            return 1
        app.unhealthy("the worker is shutting down")
        for runner in runners:
            for site in list(runner.sites):
                await site.stop()
        if not await app.wait_idle(settings.lb_drain_timeout_s):
            log.warning("%d requests still in flight after %.0f s (LB_DRAIN_TIMEOUT_S)",
                        app.in_flight, settings.lb_drain_timeout_s)
        return 0
    finally:
        stop_wait.cancel()
        died_wait.cancel()
        for runner in runners:
            await runner.cleanup()
        if pipeline is not None:
            await pipeline.close()
        if engine is not None:
            await asyncio.to_thread(engine.stop)


def run(settings: Settings) -> int:
    """The lb worker as deployed: ``serve`` with the real engine start."""
    def start() -> tuple[Engine, Pipeline]:
        engine, info = launch_engine(settings)
        return engine, make_pipeline(settings, info, engine)

    return asyncio.run(serve(settings, start))
