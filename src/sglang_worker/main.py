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
  start-up failure prints its reason (with the engine's last output). Deployed, a cause a
  restart will not fix (``engine.start_failure``: a model not found or gated, a bad flag, a
  missing path, too little GPU memory, ...) starts the SDK's job loop anyway, with a handler
  that fails every job with the cause (``jobs.not_started``), for ``START_FAILURE_HOLD_S``;
  then the worker exits non-zero. Any other cause, and every local run, exits at once.
- The SDK's own start-up fitness checks are off unless the deployer sets their variables
  (``sdk_environment``): SGLang's start has already proven the GPU (weights loaded, KV cache
  allocated, a warm-up request), the SDK's torch check would hold a CUDA context on every GPU
  in the worker process, memory SGLang did not plan for, and its disk, memory and network
  checks would kill a worker that serves fine (a model downloaded to the container disk can
  leave less than 10% of ``/`` free; a baked model needs no network).
- A ``--test_input`` run is quiet: the engine's output goes to a file (``ENGINE_LOG_FILE``, by
  default a temporary one) whose path is logged, and is printed in full only when the engine
  fails to start. After the job, besides the result JSON on stdout, stderr gets the answer and
  the image tokens the model counted. Deployed (queue and lb), the engine's output stays in
  the container log.
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
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from sglang_worker.engine import Engine, EngineClient, EngineInfo, launch_engine
from sglang_worker.engine.redaction import Redactor
from sglang_worker.engine.start_failure import StartFailure, explain
from sglang_worker.errors import EngineStartError, StartupError, WorkerError, WorkerNotStarted
from sglang_worker.http.serve import serve as serve_lb
from sglang_worker.images import ImagePipeline, limit_pillow_pixels
from sglang_worker.jobs import Worker
from sglang_worker.jobs.local_run import load_test_input, run_job
from sglang_worker.jobs.not_started import not_started_handler
from sglang_worker.pipeline import Pipeline
from sglang_worker.settings import Settings, get_settings

log = logging.getLogger("sglang_worker")
ENGINE_DEATH_GRACE_S = 10.0
# The SDK's start-up checks, off by default (see the module contract); a value the deployer
# sets wins.
SDK_CHECK_SWITCHES = {"RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true"}


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
                    lambda: engine.alive, max_n=settings.max_n)


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


def _serve(settings: Settings, worker: Worker, engine: Engine) -> None:
    runpod = _import_sdk(settings)
    engine.watch(lambda code: threading.Thread(
        target=_on_engine_death, args=(code,), daemon=True).start())
    runpod.serverless.start({
        "handler": worker.handle,
        "concurrency_modifier": lambda _current: settings.max_concurrency,
        "return_aggregate_stream": True,
    })


def not_started_error(failure: StartFailure) -> WorkerNotStarted:
    """What every job or request gets during the hold; secrets masked once more."""
    cause = Redactor(os.environ).line(failure.cause)
    return WorkerNotStarted(f"this worker could not start its engine: {cause}")


def _hold_after_failed_start(settings: Settings, failure: StartFailure, code: int) -> int:
    """The SDK's job loop with a handler that fails every job with the cause, for
    ``START_FAILURE_HOLD_S``; then exit ``code`` (once the jobs in flight are reported)."""
    log.error("failing every job with this cause for %.0f s (START_FAILURE_HOLD_S), then "
              "exiting %d", settings.start_failure_hold_s, code)
    runpod = _import_sdk(settings)

    def exit_later() -> None:
        time.sleep(settings.start_failure_hold_s)
        log.error("START_FAILURE_HOLD_S passed; exiting %d so that RunPod replaces this "
                  "worker", code)
        _exit_when_reported(code)

    threading.Thread(target=exit_later, name="start-failure-hold", daemon=True).start()
    runpod.serverless.start({
        "handler": not_started_handler(not_started_error(failure)),
        "concurrency_modifier": lambda _current: settings.max_concurrency,
        "return_aggregate_stream": True,
    })
    return code


def _local_engine_log(settings: Settings) -> Settings:
    """A ``--test_input`` run's settings: the engine's output in a file, unless one is set."""
    if settings.engine_log_file is not None:
        return settings
    path = Path(tempfile.gettempdir()) / f"sglang-worker-engine-{os.getpid()}.log"
    return settings.model_copy(update={"engine_log_file": path})


def _show_engine_log(settings: Settings) -> None:
    """A failed local start: the engine's whole output, which the run kept out of sight."""
    path = settings.engine_log_file
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path else ""
    except OSError:
        return
    if text.strip():
        sys.stderr.write(f"--- the engine's output ({path}) ---\n{text}"
                         "--- end of the engine's output ---\n")


def _start_failed(settings: Settings, error: StartupError, *, deployed: bool,
                  quiet: bool) -> int:
    failure = explain(error, settings)
    if quiet:
        _show_engine_log(settings)
        reason = error.message
        if isinstance(error, EngineStartError) and error.tail:
            reason = reason.removesuffix(error.tail).rstrip()
        log.error("cannot start the engine: %s", failure.cause if failure.lasting else reason)
    else:
        log.error("cannot start the engine: %s", error.message)
    if deployed and failure.lasting and settings.start_failure_hold_s > 0:
        log.error("a restart will not fix this: %s", failure.cause)
        return _hold_after_failed_start(settings, failure, error.exit_code)
    return error.exit_code


def _summarise(result: dict[str, Any]) -> None:
    """The lines a person reads after a local job: the answer and the image tokens."""
    if "error" in result:
        log.info("the job failed: %s", result["error"].get("message"))
        return
    first = (result.get("output") or [None])[0]
    if not isinstance(first, dict) or not first.get("choices"):
        return
    choice = first["choices"][0]
    text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
    log.info("answer: %s", " ".join(str(text).split())[:300])
    usage = first.get("usage") or {}
    images = (usage.get("prompt_tokens_details") or {}).get("image_tokens")
    if images:
        log.info("image tokens: %s of %s prompt tokens, so the image reached the model",
                 images, usage.get("prompt_tokens"))


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

    quiet = job is not None
    if quiet:
        settings = _local_engine_log(settings)
    try:
        engine, info = launch_engine(settings)
    except StartupError as error:
        return _start_failed(settings, error, deployed=deployed, quiet=quiet)
    try:
        worker = make_worker(settings, info, engine)
        if job is None:
            _serve(settings, worker, engine)
            return 0
        result = asyncio.run(_run_local(worker, job))
        print(json.dumps(result, ensure_ascii=False, indent=2), flush=True)
        _summarise(result)
        return 1 if "error" in result else 0
    finally:
        engine.stop()
