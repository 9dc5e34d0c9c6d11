"""The local endpoint's job state machine and RunPod's response bodies (pure, no I/O)."""

import pytest

from runpod_local.jobs import (
    JobStatus,
    JobStore,
    health_view,
    new_job_id,
    status_view,
    stream_view,
)


def store_with(*inputs, now=0.0, retention_s=60.0):
    store = JobStore()
    jobs = [store.submit(job_input, now=now, retention_s=retention_s) for job_input in inputs]
    return store, jobs


def test_ids_look_like_runpods():
    assert new_job_id(sync=False).endswith("-u1")
    assert new_job_id(sync=True).startswith("sync-")
    assert new_job_id(sync=False) != new_job_id(sync=False)


def test_take_is_fifo_hands_out_payloads_and_drops_the_input():
    store, (a, b, c) = store_with({"n": 1}, {"n": 2}, {"n": 3})
    assert store.take(2, now=1.5, worker_id="w") == [{"id": a.id, "input": {"n": 1}},
                                                     {"id": b.id, "input": {"n": 2}}]
    assert a.status is JobStatus.IN_PROGRESS and a.input is None and a.worker_id == "w"
    assert (store.queued, store.in_progress) == (1, 2)
    assert [p["id"] for p in store.take(5, now=2, worker_id="w")] == [c.id]
    assert store.take(1, now=3, worker_id="w") == []


def test_stream_then_done_completes_and_every_change_bumps_the_version():
    store, (job,) = store_with("x")
    store.take(1, now=2.0, worker_id="w")
    version = job.version
    assert store.record_stream(job.id, "a") and store.record_stream(job.id, "b")
    assert job.version == version + 2
    assert store.finish(job.id, {"output": ["a", "b"]}, now=3.25)
    assert job.status is JobStatus.COMPLETED and job.output == ["a", "b"]
    assert status_view(job) == {"id": job.id, "status": "COMPLETED", "delayTime": 2000,
                                "workerId": "w", "executionTime": 1250, "output": ["a", "b"]}
    assert store.counts["completed"] == 1 and store.in_progress == 0


def test_an_error_result_fails_the_job_and_the_view_carries_it():
    store, (job,) = store_with("x")
    store.take(1, now=0, worker_id="w")
    store.finish(job.id, {"error": '{"error": {"code": 400}}'}, now=1)
    view = status_view(job)
    assert view["status"] == "FAILED" and view["error"] == '{"error": {"code": 400}}'
    assert "output" not in view


def test_cancel_a_queued_job_removes_it_from_the_queue_without_a_stop():
    store, (job, other) = store_with("x", "y")
    assert store.cancel(job.id, now=1).status is JobStatus.CANCELLED
    assert store.queued == 1 and store.take_stop_ids() == []
    assert [p["id"] for p in store.take(5, now=2, worker_id="w")] == [other.id]
    assert status_view(job) == {"id": job.id, "status": "CANCELLED"}


def test_cancel_a_running_job_puts_it_on_the_stop_list_once():
    store, (job,) = store_with("x")
    store.take(1, now=0, worker_id="w")
    store.cancel(job.id, now=1)
    assert store.take_stop_ids() == [job.id]
    assert store.take_stop_ids() == []
    assert store.cancel(job.id, now=2).status is JobStatus.CANCELLED  # idempotent
    assert store.take_stop_ids() == []


def test_final_states_are_final_and_late_worker_posts_resend_the_stop():
    store, (job,) = store_with("x")
    store.take(1, now=0, worker_id="w")
    store.cancel(job.id, now=1)
    store.take_stop_ids()
    # The stop reached the worker before its task existed: its outputs keep coming.
    assert not store.record_stream(job.id, "late")
    assert store.take_stop_ids() == [job.id]
    assert not store.finish(job.id, {"output": ["late"]}, now=2)
    assert job.status is JobStatus.CANCELLED and job.streamed == [] and job.output is None
    assert store.cancel("no-such-job", now=3) is None
    assert not store.record_stream("no-such-job", "x")


def test_completed_job_is_not_changed_by_cancel():
    store, (job,) = store_with("x")
    store.take(1, now=0, worker_id="w")
    store.finish(job.id, {"output": [1]}, now=1)
    assert store.cancel(job.id, now=2).status is JobStatus.COMPLETED
    assert store.take_stop_ids() == []


def test_overdue_jobs_time_out_and_are_stopped():
    store, (slow, fresh) = store_with("x", "y")
    store.take(1, now=0, worker_id="w")
    store.take(1, now=9, worker_id="w")
    assert store.time_out_overdue(now=10.5, limit_s=10, error="too slow") == [slow]
    assert slow.status is JobStatus.TIMED_OUT and slow.error == "too slow"
    assert fresh.status is JobStatus.IN_PROGRESS
    assert store.take_stop_ids() == [slow.id]
    assert store.time_out_overdue(now=1e9, limit_s=0, error="x") == []  # 0: no limit


def test_read_stream_returns_what_is_new_since_the_last_poll():
    store, (job,) = store_with("x")
    store.take(1, now=0, worker_id="w")
    store.record_stream(job.id, 1)
    store.record_stream(job.id, 2)
    assert store.read_stream(job.id) == [1, 2]
    assert store.read_stream(job.id) == []
    store.record_stream(job.id, 3)
    assert stream_view(job, store.read_stream(job.id))["stream"] == [{"output": 3}]


def test_finished_jobs_are_forgotten_after_their_retention():
    store = JobStore()
    short = store.submit("x", now=0, retention_s=60)
    long = store.submit("y", now=0, retention_s=1800)
    store.take(2, now=0, worker_id="w")
    store.finish(short.id, {"output": 1}, now=1)
    store.finish(long.id, {"output": 1}, now=1)
    assert store.prune(now=30) == 0
    assert store.prune(now=62) == 1 and store.get(short.id) is None and store.get(long.id)
    assert store.counts["completed"] == 2  # /health counts are cumulative


def test_purge_queue_cancels_queued_jobs_and_leaves_running_ones():
    store, (running, a, b) = store_with("x", "y", "z")
    store.take(1, now=0, worker_id="w")
    versions = (a.version, b.version)
    assert store.purge_queue(now=1) == [a, b]
    assert a.status is b.status is JobStatus.CANCELLED and a.input is b.input is None
    assert (a.version, b.version) == (versions[0] + 1, versions[1] + 1)
    assert (store.queued, store.in_progress) == (0, 1) and store.take_stop_ids() == []
    assert running.status is JobStatus.IN_PROGRESS
    assert store.take(5, now=2, worker_id="w") == []
    assert store.purge_queue(now=3) == []
    assert store.finish(running.id, {"output": 1}, now=4)


def test_fail_unfinished_ends_queued_and_running_jobs():
    store, (running, queued) = store_with("x", "y")
    store.take(1, now=0, worker_id="w")
    assert {job.id for job in store.fail_unfinished("gone", now=1)} == {running.id, queued.id}
    assert running.status is queued.status is JobStatus.FAILED
    assert (store.queued, store.in_progress) == (0, 0)


def test_duplicate_ids_are_refused():
    store = JobStore()
    store.submit("x", now=0, retention_s=1, job_id="a")
    with pytest.raises(ValueError):
        store.submit("y", now=0, retention_s=1, job_id="a")


def test_health_view_counts_and_worker_state():
    store, (done, failed, _running, _queued) = store_with("a", "b", "c", "d")
    store.take(3, now=0, worker_id="w")
    store.finish(done.id, {"output": 1}, now=1)
    store.finish(failed.id, {"error": "x"}, now=1)
    assert health_view(store, worker_ready=True) == {
        "jobs": {"completed": 1, "failed": 1, "inProgress": 1, "inQueue": 1},
        "workers": {"idle": 0, "initializing": 0, "running": 1}}
    assert health_view(JobStore(), worker_ready=False)["workers"] == {
        "idle": 0, "initializing": 1, "running": 0}
    assert health_view(JobStore(), worker_ready=True)["workers"]["idle"] == 1
