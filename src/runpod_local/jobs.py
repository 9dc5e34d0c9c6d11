"""RunPod's job lifecycle as a pure state machine: the one record of every local job.

Contract:
- States are RunPod's. ``IN_QUEUE -> IN_PROGRESS -> COMPLETED | FAILED | CANCELLED | TIMED_OUT``
  and ``IN_QUEUE -> CANCELLED``. The four end states are final: nothing changes a finished job.
- ``submit`` queues a job; ``take(n)`` hands the oldest queued jobs to a worker (FIFO) as the
  job-take payloads ``{"id", "input"}``, and drops the store's reference to the input.
- ``record_stream`` appends one streamed output of a job in progress; ``finish`` ends it with the
  worker's job-done body: ``{"error": ...}`` makes it FAILED, anything else COMPLETED with
  ``output``.
- ``cancel``: a queued job leaves the queue; a job in progress also goes on the stop list that
  the worker's job-stop poll drains (``take_stop_ids``). ``time_out_overdue`` does the same, as
  TIMED_OUT, for jobs past the execution timeout. ``purge_queue`` cancels every queued job at
  once (RunPod's ``/purge-queue``) and leaves jobs in progress alone. A job-stream or job-done
  that arrives for a job already stopped is ignored and puts the job back on the stop list, so
  a stop that reached the worker before its task existed is sent again.
- ``read_stream`` returns the outputs streamed since the previous call: one cursor per job, as
  RunPod's ``/stream``.
- A finished job is forgotten ``retention_s`` after it ended (``prune``); the counters that
  ``/health`` reports are cumulative.
- ``status_view``, ``stream_view`` and ``health_view`` build RunPod's documented bodies, except
  that ``/health`` has no ``retried`` count: the emulator never retries a job.
  ``delayTime`` is queued until taken, ``executionTime`` taken until finished, in milliseconds.
- No I/O and no asyncio: time is passed in (``now``: seconds on a monotonic clock), and every
  change of a job increments ``job.version``, so an async layer can wait for changes.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


FINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)
STOPPED_STATUSES = frozenset({JobStatus.CANCELLED, JobStatus.TIMED_OUT})


@dataclass(eq=False, slots=True)
class Job:
    id: str
    input: Any
    created_at: float
    retention_s: float
    status: JobStatus = JobStatus.IN_QUEUE
    worker_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    streamed: list[Any] = field(default_factory=list)
    stream_cursor: int = 0
    output: Any = None
    error: Any = None
    version: int = 0

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def move_to(self, status: JobStatus, now: float) -> None:
        self.status = status
        if status in FINAL_STATUSES:
            self.finished_at = now
        self.version += 1


def new_job_id(*, sync: bool) -> str:
    """An id shaped like RunPod's (``sync-`` for synchronous requests)."""
    return f"{'sync-' if sync else ''}{uuid.uuid4()}-u1"


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class JobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._running: set[str] = set()
        self._stop: list[str] = []
        self.counts: Counter[str] = Counter()

    # --- reading ------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_progress(self) -> int:
        return len(self._running)

    @property
    def has_stop_ids(self) -> bool:
        return bool(self._stop)

    def unfinished(self) -> list[Job]:
        return [job for job in self._jobs.values() if not job.final]

    # --- the client's side --------------------------------------------------------------
    def submit(self, job_input: Any, *, now: float, retention_s: float, sync: bool = False,
               job_id: str | None = None) -> Job:
        job_id = job_id or new_job_id(sync=sync)
        if job_id in self._jobs:
            raise ValueError(f"job id {job_id!r} is already in use")
        job = Job(job_id, job_input, created_at=now, retention_s=retention_s)
        self._jobs[job_id] = job
        self._queue.append(job)
        return job

    def cancel(self, job_id: str, *, now: float) -> Job | None:
        """Cancel a job that has not finished; a finished one is returned unchanged."""
        job = self._jobs.get(job_id)
        if job is None or job.final:
            return job
        self._stop_job(job, JobStatus.CANCELLED, now)
        return job

    def purge_queue(self, *, now: float) -> list[Job]:
        """Cancel every queued job (none has reached a worker, so none is on the stop list)."""
        purged = list(self._queue)
        self._queue.clear()
        for job in purged:
            job.input = None
            job.move_to(JobStatus.CANCELLED, now)
        return purged

    def read_stream(self, job_id: str) -> list[Any]:
        job = self._jobs[job_id]
        new = job.streamed[job.stream_cursor:]
        job.stream_cursor = len(job.streamed)
        return new

    # --- the worker's side --------------------------------------------------------------
    def take(self, n: int, *, now: float, worker_id: str) -> list[dict[str, Any]]:
        payloads = []
        while self._queue and len(payloads) < n:
            job = self._queue.popleft()
            job.worker_id = worker_id
            job.started_at = now
            job.move_to(JobStatus.IN_PROGRESS, now)
            self._running.add(job.id)
            payloads.append({"id": job.id, "input": job.input})
            job.input = None  # the worker has it now; a big base64 image is not kept twice
        return payloads

    def record_stream(self, job_id: str, output: Any) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS:
            self._stop_again(job)
            return False
        job.streamed.append(output)
        job.version += 1
        return True

    def finish(self, job_id: str, result: dict[str, Any], *, now: float) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS:
            self._stop_again(job)
            return False
        self._running.discard(job_id)
        if result.get("error") is not None:
            job.error = result["error"]
            job.move_to(JobStatus.FAILED, now)
            self.counts["failed"] += 1
        else:
            job.output = result.get("output")
            job.move_to(JobStatus.COMPLETED, now)
            self.counts["completed"] += 1
        return True

    def take_stop_ids(self) -> list[str]:
        ids, self._stop = self._stop, []
        return ids

    # --- housekeeping -------------------------------------------------------------------
    def time_out_overdue(self, *, now: float, limit_s: float, error: str) -> list[Job]:
        """Stop every job in progress for longer than ``limit_s`` (0: no limit)."""
        if limit_s <= 0:
            return []
        overdue = [job for job in map(self._jobs.__getitem__, self._running)
                   if job.started_at is not None and now - job.started_at > limit_s]
        for job in overdue:
            job.error = error
            self._stop_job(job, JobStatus.TIMED_OUT, now)
            self.counts["timed_out"] += 1
        return overdue

    def fail_unfinished(self, error: str, *, now: float) -> list[Job]:
        """End every job that has not finished (the worker is gone)."""
        jobs = self.unfinished()
        for job in jobs:
            job.error = error
            job.move_to(JobStatus.FAILED, now)
            self.counts["failed"] += 1
        self._queue.clear()
        self._running.clear()
        return jobs

    def prune(self, *, now: float) -> int:
        expired = [job.id for job in self._jobs.values() if job.finished_at is not None
                   and now - job.finished_at > job.retention_s]
        for job_id in expired:
            del self._jobs[job_id]
        return len(expired)

    # --- internals ----------------------------------------------------------------------
    def _stop_job(self, job: Job, status: JobStatus, now: float) -> None:
        if job.status is JobStatus.IN_QUEUE:
            self._queue.remove(job)
            job.input = None
        else:
            self._running.discard(job.id)
            self._stop.append(job.id)
        job.move_to(status, now)

    def _stop_again(self, job: Job | None) -> None:
        if job is not None and job.status in STOPPED_STATUSES and job.id not in self._stop:
            self._stop.append(job.id)


# --- RunPod's response bodies ---------------------------------------------------------------
def status_view(job: Job) -> dict[str, Any]:
    """The body of ``/status`` (and of ``/runsync`` once its job finished)."""
    body: dict[str, Any] = {"id": job.id, "status": job.status.value}
    if job.started_at is not None:
        body["delayTime"] = _ms(job.started_at - job.created_at)
        body["workerId"] = job.worker_id
        if job.finished_at is not None:
            body["executionTime"] = _ms(job.finished_at - job.started_at)
    if job.status is JobStatus.COMPLETED:
        body["output"] = job.output
    elif job.error is not None:
        body["error"] = job.error
    return body


def stream_view(job: Job, outputs: list[Any]) -> dict[str, Any]:
    """The body of ``/stream``: what was streamed since the last poll."""
    body = status_view(job)
    body.pop("output", None)
    body["stream"] = [{"output": output} for output in outputs]
    return body


def health_view(store: JobStore, *, worker_ready: bool) -> dict[str, Any]:
    busy = store.in_progress > 0
    return {
        "jobs": {
            "completed": store.counts["completed"],
            "failed": store.counts["failed"] + store.counts["timed_out"],
            "inProgress": store.in_progress,
            "inQueue": store.queued,
        },
        "workers": {
            "idle": int(worker_ready and not busy),
            "initializing": int(not worker_ready),
            "running": int(worker_ready and busy),
        },
    }
