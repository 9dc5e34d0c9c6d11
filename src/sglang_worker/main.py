"""The worker process: which mode it runs in, and nothing else. Each mode's lifecycle reads in
one module.

Contract:
- ``--test_input`` (or a ``test_input.json`` here, when not deployed): that one job through the
  real handler, its result printed (``jobs.local_run.run_local``).
- ``WORKER_MODE=lb`` (without ``--test_input``): the HTTP API of a load-balancing endpoint
  (``http.serve.run``); the SDK's job loop does not run, and a ``test_input.json`` is not read.
- Otherwise the RunPod SDK's job loop (``jobs.serve.serve``): deployed when
  ``RUNPOD_WEBHOOK_GET_JOB`` is set, or the SDK's own ``--rp_serve_api`` server. Without either,
  the worker says what to pass.
- Before any of them: worker-vllm's variable names are read as this worker's
  (``engine.vllm_env``; the additions go into this process's environment before the settings
  are read, so the engine's environment has them too, and each one is logged), SIGTERM unwinds
  like Ctrl-C (so the engine is stopped on the way out; the SDK replaces this with its own
  graceful drain, lb mode with its own), Pillow's bomb limit is set (``MAX_IMAGE_PIXELS``) and
  logging goes to stderr at ``WORKER_LOG_LEVEL``.
- Exit codes: 0 done, 1 job or engine failure, 2 bad usage or configuration (a start-up
  failure exits with its ``StartupError.exit_code``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from sglang_worker.engine.vllm_env import translate
from sglang_worker.errors import WorkerError
from sglang_worker.http import serve as lb_mode
from sglang_worker.images import limit_pillow_pixels
from sglang_worker.jobs import local_run
from sglang_worker.jobs import serve as queue_mode
from sglang_worker.settings import get_settings

log = logging.getLogger("sglang_worker")


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


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    carried = translate(os.environ)
    os.environ.update(carried.updates)
    settings = get_settings()
    limit_pillow_pixels(settings.max_image_pixels)
    configure_logging(settings.worker_log_level)
    for note in carried.notes:
        log.log(logging.WARNING if note.level == "warning" else logging.INFO, "%s", note.message)
    args = _parse_args(argv)
    if settings.worker_mode == "lb" and args.test_input is None:
        return lb_mode.run(settings)
    deployed = bool(os.environ.get("RUNPOD_WEBHOOK_GET_JOB")) and args.test_input is None
    try:
        job = None if deployed else local_run.load_test_input(args.test_input)
    except WorkerError as error:
        log.error("%s", error.message)
        return 2
    if job is not None:
        return local_run.run_local(settings, job)
    if not deployed and "--rp_serve_api" not in argv:
        log.error("nothing to do: pass --test_input '<json>' or a JSON file, put a "
                  "test_input.json here, or run deployed (RUNPOD_WEBHOOK_GET_JOB)")
        return 2
    return queue_mode.serve(settings, deployed=deployed)
