"""The queue worker's lifecycle: start the engine, then RunPod's job loop, then stop the engine.

Contract (``serve(settings, deployed=...)``, run by ``main`` in queue mode):
- The engine is started and healthy before the SDK is started, so no job is pulled early. The
  RunPod SDK's ``runpod.serverless.start`` then runs unchanged, with ``Worker.handle``:
  deployed when ``RUNPOD_WEBHOOK_GET_JOB`` is set, or the SDK's own ``--rp_serve_api`` server.
- A start-up failure follows the one policy of both modes (``engine.start_failure.
  failed_start``): deployed, a cause a restart will not fix (a model not found or gated, a bad
  flag, a missing path, too little GPU memory, ...) starts the SDK's job loop anyway, with a
  handler that fails every job with the cause (``jobs.not_started``), for
  ``START_FAILURE_HOLD_S``; then the worker exits with the error's exit code. Any other cause
  exits at once.
- The SDK's own start-up fitness checks are off unless the deployer sets their variables
  (``sdk_environment``): SGLang's start has already proven the GPU (weights loaded, KV cache
  allocated, a warm-up request), the SDK's torch check would hold a CUDA context on every GPU
  in the worker process, memory SGLang did not plan for, and its disk, memory and network
  checks would kill a worker that serves fine (a model downloaded to the container disk can
  leave less than 10% of ``/`` free; a baked model needs no network). Its log level is the
  worker's ``RUNPOD_LOG_LEVEL`` (INFO), set before it is imported.
- If the engine dies while serving, new jobs fail at once, in-flight jobs fail as their
  connections drop, and once the SDK has reported them (or ``ENGINE_DEATH_GRACE_S`` passed) the
  worker exits 1 so that RunPod replaces it.
- SIGTERM: the SDK stops pulling jobs and lets in-flight jobs finish; then the engine gets
  SIGTERM (SIGKILL after ``ENGINE_SHUTDOWN_TIMEOUT_S``). The engine never outlives the worker
  (it is also tied to it with ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from sglang_worker.engine import launch_engine
from sglang_worker.engine.server import Engine
from sglang_worker.engine.start_failure import FailedStart, failed_start
from sglang_worker.errors import StartupError
from sglang_worker.jobs.handler import Worker, make_worker
from sglang_worker.jobs.not_started import not_started_handler
from sglang_worker.pipeline.runner import ENGINE_DEATH_GRACE_S
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)
# The SDK's start-up checks, off by default (see the module contract); a value the deployer
# sets wins.
SDK_CHECK_SWITCHES = {"RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true"}


def sdk_environment(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """The variables the RunPod SDK reads, as the worker sets them before importing it: its
    log level (ours, default INFO; it reads it at import) and its fitness checks off, unless
    ``env`` already has a value for a switch."""
    switches = {name: env.get(name) or value for name, value in SDK_CHECK_SWITCHES.items()}
    return {**switches, "RUNPOD_LOG_LEVEL": settings.runpod_log_level}


def _import_sdk(settings: Settings) -> ModuleType:
    os.environ.update(sdk_environment(settings, os.environ))
    import runpod

    return runpod


def _start_job_loop(settings: Settings, handler: Any) -> None:
    _import_sdk(settings).serverless.start({
        "handler": handler,
        "concurrency_modifier": lambda _current: settings.max_concurrency,
        "return_aggregate_stream": True,
    })


def _exit_when_reported(code: int) -> None:
    """Let the SDK report the jobs in flight (at most ``ENGINE_DEATH_GRACE_S``), then exit."""
    from runpod.serverless.modules.worker_state import JobsProgress

    deadline = time.monotonic() + ENGINE_DEATH_GRACE_S
    while JobsProgress().get_job_count() and time.monotonic() < deadline:
        time.sleep(0.1)
    logging.shutdown()
    os._exit(code)


def _on_engine_death(code: int) -> None:
    log.error("the SGLang engine exited with code %s while serving; failing jobs and exiting",
              code)
    _exit_when_reported(1)


def _serve_jobs(settings: Settings, worker: Worker, engine: Engine) -> None:
    engine.watch(lambda code: threading.Thread(
        target=_on_engine_death, args=(code,), daemon=True).start())
    _start_job_loop(settings, worker.handle)


def _hold(settings: Settings, failed: FailedStart) -> int:
    """The SDK's job loop with a handler that fails every job with the cause, for
    ``hold_s``; then exit (once the jobs in flight are reported)."""
    def exit_later() -> None:
        time.sleep(failed.hold_s)
        log.error("START_FAILURE_HOLD_S passed; exiting %d so that RunPod replaces this "
                  "worker", failed.exit_code)
        _exit_when_reported(failed.exit_code)

    threading.Thread(target=exit_later, name="start-failure-hold", daemon=True).start()
    _start_job_loop(settings, not_started_handler(failed.not_started()))
    return failed.exit_code


def serve(settings: Settings, *, deployed: bool) -> int:
    try:
        engine, info = launch_engine(settings)
    except StartupError as error:
        failed = failed_start(error, settings, deployed=deployed)
        failed.log()
        return _hold(settings, failed) if failed.hold_s else failed.exit_code
    try:
        _serve_jobs(settings, make_worker(settings, info, engine), engine)
        return 0
    finally:
        engine.stop()
