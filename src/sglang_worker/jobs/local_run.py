"""Run one job locally and print its real output (the SDK's local mode cannot: it does not
iterate generator handlers).

Contract:
- The job comes from ``--test_input`` (JSON text, or a path to a JSON file) or, like the SDK,
  from ``test_input.json`` in the working directory. It is ``{"input": ...}``, optionally with
  an ``id`` (default ``local_test``).
- ``run_job`` drives ``Worker.handle`` as the SDK does and returns the job's result as the
  platform records it with ``return_aggregate_stream``: ``{"output": [every yield]}`` (so a
  non-streaming job's output is a one-element list holding the response object, exactly what
  ``/runsync`` returns), or ``{"error": <OpenAI error object>, "partial_output": [...]}``.
- ``main`` prints that result as JSON on stdout (logs go to stderr) and the process exits 1
  when the job failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sglang_worker.errors import InvalidRequest
from sglang_worker.jobs.handler import Worker

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
