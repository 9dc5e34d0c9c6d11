"""Run one job locally and print its real output (the SDK's local mode cannot: it does not
iterate generator handlers): the ``--test_input`` mode's whole lifecycle.

Contract:
- The job comes from ``--test_input`` (JSON text, or a path to a JSON file) or, like the SDK,
  from ``test_input.json`` in the working directory. It is ``{"input": ...}``, optionally with
  an ``id`` (default ``local_test``).
- ``run_job`` drives ``Worker.handle`` as the SDK does and returns the job's result as the
  platform records it with ``return_aggregate_stream``: ``{"output": [every yield]}`` (so a
  non-streaming job's output is a one-element list holding the response object, exactly what
  ``/runsync`` returns), or ``{"error": <OpenAI error object>, "partial_output": [...]}``.
- ``run_local(settings, job)`` starts the engine, runs the job, stops the engine, prints the
  result as JSON on stdout (logs go to stderr) and returns 1 when the job failed, 0 otherwise.
- The run is quiet: the engine's output goes to a file (``ENGINE_LOG_FILE``, by default a
  temporary one) whose path is logged, and is printed in full only when the engine fails to
  start; then the worker exits at once with the error's exit code (no hold: nobody is waiting
  on a queue). After the job, besides the result JSON, stderr gets the answer and the image
  tokens the model counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from sglang_worker.engine import launch_engine
from sglang_worker.engine.start_failure import failed_start
from sglang_worker.errors import EngineStartError, InvalidRequest, StartupError
from sglang_worker.jobs.handler import Worker, make_worker
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_TEST_INPUT = Path("test_input.json")


def load_test_input(value: str | None) -> dict[str, Any] | None:
    """The local job named by ``--test_input`` or ``test_input.json``; None if neither."""
    if value is None:
        if not DEFAULT_TEST_INPUT.is_file():
            return None
        value = str(DEFAULT_TEST_INPUT)
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise InvalidRequest(f"--test_input: {value!r} is neither JSON nor a file")
        text = path.read_text(encoding="utf-8")
    try:
        job = json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"--test_input is not valid JSON: {exc}") from None
    if not isinstance(job, dict) or "input" not in job:
        raise InvalidRequest('--test_input must be a JSON object with an "input" key')
    job.setdefault("id", "local_test")
    return job


async def run_job(worker: Worker, job: dict[str, Any]) -> dict[str, Any]:
    outputs: list[Any] = []
    async for output in worker.handle(job):
        if isinstance(output, dict) and isinstance(output.get("error"), str):
            return {"error": json.loads(output["error"])["error"], "partial_output": outputs}
        outputs.append(output)
    return {"output": outputs}


def _quiet(settings: Settings) -> Settings:
    """The run's settings: the engine's output in a file, unless one is set."""
    if settings.engine_log_file is not None:
        return settings
    path = Path(tempfile.gettempdir()) / f"sglang-worker-engine-{os.getpid()}.log"
    return settings.model_copy(update={"engine_log_file": path})


def _show_engine_log(settings: Settings) -> None:
    """A failed start: the engine's whole output, which the run kept out of sight."""
    path = settings.engine_log_file
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path else ""
    except OSError:
        return
    if text.strip():
        sys.stderr.write(f"--- the engine's output ({path}) ---\n{text}"
                         "--- end of the engine's output ---\n")


def _summarise(result: dict[str, Any]) -> None:
    """The lines a person reads after the job: the answer and the image tokens."""
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


async def _run_and_close(worker: Worker, job: dict[str, Any]) -> dict[str, Any]:
    try:
        return await run_job(worker, job)
    finally:
        await worker.close()


def run_local(settings: Settings, job: dict[str, Any]) -> int:
    settings = _quiet(settings)
    try:
        engine, info = launch_engine(settings)
    except StartupError as error:
        _show_engine_log(settings)
        failed = failed_start(error, settings, deployed=False)
        reason = error.message
        if isinstance(error, EngineStartError) and error.tail:
            reason = reason.removesuffix(error.tail).rstrip()
        failed.log(failed.failure.cause if failed.failure.lasting else reason)
        return failed.exit_code
    try:
        result = asyncio.run(_run_and_close(make_worker(settings, info, engine), job))
    finally:
        engine.stop()
    print(json.dumps(result, ensure_ascii=False, indent=2), flush=True)
    _summarise(result)
    return 1 if "error" in result else 0
