"""The SDK handler of a worker whose engine could not start: every job fails with the cause.

Contract (``not_started_handler(error)``, run by ``main`` for ``START_FAILURE_HOLD_S`` after a
lasting start-up failure, so that queued jobs end with a reason instead of waiting for a
worker that RunPod restarts again and again):
- An async generator, like ``Worker.handle``, so the SDK treats both handlers alike
  (``return_aggregate_stream``). Each job yields one ``jobs.output.job_error``: the OpenAI
  error body of ``WorkerNotStarted`` (503) whose message is the cause and what to change.
- The job's input is not read. One log line per job, as ``Worker`` writes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sglang_worker.errors import WorkerNotStarted
from sglang_worker.jobs.output import job_error

log = logging.getLogger(__name__)


def not_started_handler(
        error: WorkerNotStarted) -> Callable[[dict[str, Any]], AsyncIterator[dict[str, str]]]:
    async def handle(job: dict[str, Any]) -> AsyncIterator[dict[str, str]]:
        log.info("job=%s outcome=error:%d (the engine did not start)", job.get("id", "?"),
                 error.status)
        yield job_error(error)

    return handle
