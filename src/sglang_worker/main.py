"""The worker process's lifecycle: start the engine, then serve jobs, then stop the engine.

Contract:
- Modes: ``--test_input`` (or a ``test_input.json`` here, when not deployed) runs that one job
  through the real handler and prints its result (``local_run``). ``WORKER_MODE=lb`` (without
  ``--test_input``) serves the HTTP API of a load-balancing endpoint (``http.serve``); the
  SDK's job loop does not run, and a ``test_input.json`` is not read. Otherwise the RunPod
  SDK's ``runpod.serverless.start`` runs unchanged: deployed when ``RUNPOD_WEBHOOK_GET_JOB`` is
  set, or the SDK's own ``--rp_serve_api`` server. Without either, the worker says what to
  pass.
- The engine is started and healthy before the SDK is started, so no job is pulled early. A
  start-up failure prints its reason (with the engine's last output) and exits 1.
- If the engine dies while serving, new jobs fail at once, in-flight jobs fail as their
  connections drop, and once the SDK has reported them (or ``ENGINE_DEATH_GRACE_S`` passed) the
  worker exits 1 so that RunPod replaces it.
- SIGTERM/SIGINT: the SDK stops pulling jobs and lets in-flight jobs finish; then the engine
  gets SIGTERM (SIGKILL after ``ENGINE_SHUTDOWN_TIMEOUT_S``). The engine never outlives the
  worker (it is also tied to it with ``PR_SET_PDEATHSIG``).
- Exit codes: 0 done, 1 job or engine failure, 2 bad usage or configuration (a start-up
  failure exits with its ``StartupError.exit_code``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from sglang_worker.engine import Engine, EngineClient, EngineInfo, launch_engine
from sglang_worker.errors import StartupError, WorkerError
from sglang_worker.http.serve import serve as serve_lb
from sglang_worker.images import ImagePipeline, limit_pillow_pixels
from sglang_worker.jobs import Worker
from sglang_worker.jobs.local_run import load_test_input, run_job
from sglang_worker.pipeline import Pipeline
from sglang_worker.settings import Settings, get_settings

log = logging.getLogger("sglang_worker")
ENGINE_DEATH_GRACE_S = 10.0


def configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="handler.py", add_help=True)
    parser.add_argument("--test_input", default=None,
                        help="run one job: JSON text or a path to a JSON file")
    known, _ = parser.parse_known_args(argv)
    return known


def make_pipeline(settings: Settings, info: EngineInfo, engine: Engine) -> Pipeline:
    return Pipeline(info, EngineClient(info.base_url, settings), ImagePipeline(settings),
                    lambda: engine.alive)


def make_worker(settings: Settings, info: EngineInfo, engine: Engine) -> Worker:
    return Worker(make_pipeline(settings, info, engine))


def _serve_lb(settings: Settings) -> int:
    def start() -> tuple[Engine, Pipeline]:
        engine, info = launch_engine(settings)
        return engine, make_pipeline(settings, info, engine)

    return asyncio.run(serve_lb(settings, start))


async def _run_local(worker: Worker, job: dict[str, Any]) -> dict[str, Any]:
    try:
        return await run_job(worker, job)
    finally:
        await worker.close()


def _exit_when_reported(code: int) -> None:
    """Engine death while serving: let the SDK report the failing jobs, then exit 1."""
    from runpod.serverless.modules.worker_state import JobsProgress

    log.error("the SGLang engine exited with code %s while serving; failing jobs and exiting",
              code)
    deadline = time.monotonic() + ENGINE_DEATH_GRACE_S
    while JobsProgress().get_job_count() and time.monotonic() < deadline:
        time.sleep(0.1)
    logging.shutdown()
    os._exit(1)


def _serve(settings: Settings, worker: Worker, engine: Engine) -> None:
    # The SDK reads its level when it is imported: set it first, to ours (default INFO).
    os.environ["RUNPOD_LOG_LEVEL"] = settings.runpod_log_level
    import runpod

    engine.watch(lambda code: threading.Thread(
        target=_exit_when_reported, args=(code,), daemon=True).start())
    runpod.serverless.start({
        "handler": worker.handle,
        "concurrency_modifier": lambda _current: settings.max_concurrency,
        "return_aggregate_stream": True,
    })


def main(argv: list[str]) -> int:
    # SIGTERM unwinds like Ctrl-C, so the engine is stopped on the way out; in deployed mode the
    # SDK replaces this with its own graceful drain.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    settings = get_settings()
    limit_pillow_pixels(settings.max_image_pixels)
    configure_logging(settings.worker_log_level)
    args = _parse_args(argv)
    if settings.worker_mode == "lb" and args.test_input is None:
        return _serve_lb(settings)
    deployed = bool(os.environ.get("RUNPOD_WEBHOOK_GET_JOB")) and args.test_input is None
    try:
        job = None if deployed else load_test_input(args.test_input)
    except WorkerError as error:
        log.error("%s", error.message)
        return 2
    if not deployed and job is None and "--rp_serve_api" not in argv:
        log.error("nothing to do: pass --test_input '<json>' or a JSON file, put a "
                  "test_input.json here, or run deployed (RUNPOD_WEBHOOK_GET_JOB)")
        return 2

    try:
        engine, info = launch_engine(settings)
    except StartupError as error:
        log.error("cannot start the engine: %s", error.message)
        return error.exit_code
    try:
        worker = make_worker(settings, info, engine)
        if job is None:
            _serve(settings, worker, engine)
            return 0
        result = asyncio.run(_run_local(worker, job))
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 1 if "error" in result else 0
    finally:
        engine.stop()
