"""The job store with waiting: what the worker-facing job API and the public API share.

Contract:
- One ``JobBoard`` per endpoint, used from one event loop. It wraps the pure ``jobs.JobStore``
  and adds the waiting the HTTP handlers need: ``take`` long-polls for queued jobs,
  ``stop_ids`` for jobs to stop, ``wait_change`` and ``wait_final`` for one job's progress.
  A change wakes only the waiters it concerns.
- Retention is RunPod's: a ``/run`` job is kept 30 minutes after it ends, a ``/runsync`` or
  OpenAI job 1 minute.
- ``purge_queue()`` cancels every queued job and returns how many; their waiters (a
  ``/runsync`` or OpenAI request on one of them) wake and answer as for any cancelled job.
- ``housekeeping()`` runs until cancelled: every second it stops jobs past the execution
  timeout (``LOCAL_ENDPOINT_EXECUTION_TIMEOUT_S``) as TIMED_OUT and forgets expired jobs.
- ``close_intake()`` (the endpoint is stopping) makes job-take polls return empty at once, so
  the SDK's loop sees its own shutdown quickly; queued jobs stay queued until
  ``fail_unfinished``.
- ``worker_ready`` is set by the worker's first job-take poll: the worker polls only once its
  engine is healthy (see ``main``).
- Failures the endpoint itself reports (timeout, worker gone) use the worker's error contract:
  the job error is the JSON string of OpenAI's error body, with the HTTP status as ``code``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from runpod_local.jobs import Job, JobStore, health_view
from sglang_worker.errors import WorkerError

RUN_RETENTION_S = 30 * 60.0
SYNC_RETENTION_S = 60.0
HOUSEKEEPING_INTERVAL_S = 1.0
DRAINING_POLL_S = 0.2


class _Wakeup:
    """Wakes everyone waiting at the moment it fires (an event replaced after each firing)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> bool:
        event = self._event
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True


def endpoint_error(message: str, status: int) -> str:
    """A job error raised by the endpoint itself, in the worker's error contract."""
    return WorkerError(message, status=status).to_job_error()


class JobBoard:
    def __init__(self, *, execution_timeout_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = JobStore()
        self.execution_timeout_s = execution_timeout_s
        self.worker_ready = asyncio.Event()
        self.intake_open = True
        self._clock = clock
        self._queued = _Wakeup()
        self._stops = _Wakeup()
        self._jobs: dict[str, _Wakeup] = {}

    # --- the client's side --------------------------------------------------------------
    def submit(self, job_input: Any, *, sync: bool = False, job_id: str | None = None) -> Job:
        job = self.store.submit(job_input, now=self._clock(), sync=sync, job_id=job_id,
                                retention_s=SYNC_RETENTION_S if sync else RUN_RETENTION_S)
        self._queued.fire()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.store.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        job = self.store.cancel(job_id, now=self._clock())
        if job is not None:
            self._changed(job_id)
            self._stops.fire()
        return job

    def purge_queue(self) -> int:
        purged = self.store.purge_queue(now=self._clock())
        for job in purged:
            self._changed(job.id)
        return len(purged)

    def read_stream(self, job_id: str) -> list[Any]:
        return self.store.read_stream(job_id)

    async def wait_change(self, job: Job, version: int, timeout: float | None) -> bool:
        """Wait until ``job.version`` differs from ``version``; False on timeout."""
        if job.version != version:
            return True
        return await self._jobs.setdefault(job.id, _Wakeup()).wait(timeout)

    async def wait_final(self, job: Job, timeout: float | None) -> bool:
        """Wait until the job has finished; False on timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        while not job.final:
            remaining = None if deadline is None else deadline - self._clock()
            if remaining is not None and remaining <= 0:
                return False
            await self.wait_change(job, job.version, remaining)
        return True

    def health(self) -> dict[str, Any]:
        return health_view(self.store, worker_ready=self.worker_ready.is_set())

    # --- the worker's side --------------------------------------------------------------
    async def take(self, n: int, *, worker_id: str, timeout: float) -> list[dict[str, Any]]:
        """Long-poll: the oldest queued jobs (at most ``n``), or [] after ``timeout``."""
        self.worker_ready.set()
        deadline = self._clock() + timeout
        while not self.store.queued or not self.intake_open:
            if not self.intake_open:
                await asyncio.sleep(DRAINING_POLL_S)
                return []
            remaining = deadline - self._clock()
            if remaining <= 0:
                return []
            await self._queued.wait(remaining)
        payloads = self.store.take(n, now=self._clock(), worker_id=worker_id)
        for payload in payloads:
            self._changed(payload["id"])
        return payloads

    async def stop_ids(self, *, timeout: float) -> list[str]:
        """Long-poll: ids of jobs the worker must stop, or [] after ``timeout``."""
        if not self.store.has_stop_ids and self.intake_open:
            await self._stops.wait(timeout)
        return self.store.take_stop_ids()

    def record_stream(self, job_id: str, output: Any) -> bool:
        accepted = self.store.record_stream(job_id, output)
        self._after_worker_post(job_id, accepted)
        return accepted

    def finish(self, job_id: str, result: dict[str, Any]) -> bool:
        accepted = self.store.finish(job_id, result, now=self._clock())
        self._after_worker_post(job_id, accepted)
        return accepted

    # --- lifecycle ----------------------------------------------------------------------
    def close_intake(self) -> None:
        self.intake_open = False
        self._queued.fire()
        self._stops.fire()

    def fail_unfinished(self, message: str) -> int:
        jobs = self.store.fail_unfinished(endpoint_error(message, 503), now=self._clock())
        for job in jobs:
            self._changed(job.id)
        return len(jobs)

    def tick(self) -> None:
        limit = self.execution_timeout_s
        error = endpoint_error(
            f"the job ran longer than the execution timeout ({limit:g} s, "
            "LOCAL_ENDPOINT_EXECUTION_TIMEOUT_S) and was stopped", 504)
        overdue = self.store.time_out_overdue(now=self._clock(), limit_s=limit, error=error)
        for job in overdue:
            self._changed(job.id)
        if overdue:
            self._stops.fire()
        if self.store.prune(now=self._clock()):
            for job_id in [i for i in self._jobs if self.store.get(i) is None]:
                del self._jobs[job_id]

    async def housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            self.tick()

    # --- internals ----------------------------------------------------------------------
    def _changed(self, job_id: str) -> None:
        wakeup = self._jobs.pop(job_id, None)
        if wakeup is not None:
            wakeup.fire()

    def _after_worker_post(self, job_id: str, accepted: bool) -> None:
        if accepted:
            self._changed(job_id)
        elif self.store.has_stop_ids:
            self._stops.fire()
