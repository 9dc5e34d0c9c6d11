"""The job board's waiting, timeouts and shutdown (asyncio, no network)."""

import asyncio
import json

from runpod_local.board import JobBoard
from runpod_local.jobs import JobStatus
from runpod_local.openai_relay import openai_answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_job_take_poll_wakes_as_soon_as_a_job_is_submitted():
    board = JobBoard()
    poll = asyncio.create_task(board.take(4, worker_id="w", timeout=30))
    await asyncio.sleep(0.05)
    assert not poll.done() and board.worker_ready.is_set()
    job = board.submit({"x": 1})
    assert await asyncio.wait_for(poll, 1) == [{"id": job.id, "input": {"x": 1}}]


async def test_wait_final_and_its_timeout():
    board = JobBoard()
    job = board.submit("x", sync=True)
    assert not await board.wait_final(job, 0.05)
    await board.take(1, worker_id="w", timeout=1)
    waiter = asyncio.create_task(board.wait_final(job, 5))
    await asyncio.sleep(0.01)
    board.record_stream(job.id, "a")
    await asyncio.sleep(0.01)
    assert not waiter.done()  # a stream output is a change, not the end
    board.finish(job.id, {"output": ["a"]})
    assert await asyncio.wait_for(waiter, 1)


async def test_an_overdue_job_times_out_with_a_504_and_is_stopped():
    clock = Clock()
    board = JobBoard(execution_timeout_s=600, clock=clock)
    job = board.submit("x", sync=True)
    await board.take(1, worker_id="w", timeout=1)
    clock.now += 599
    board.tick()
    assert job.status is JobStatus.IN_PROGRESS
    clock.now += 2
    board.tick()
    assert job.status is JobStatus.TIMED_OUT
    assert await board.stop_ids(timeout=1) == [job.id]
    status, body = openai_answer(job)
    assert status == 504 and "LOCAL_ENDPOINT_EXECUTION_TIMEOUT_S" in body["error"]["message"]
    clock.now += 61  # a /runsync result is kept 1 minute
    board.tick()
    assert board.get(job.id) is None


async def test_closing_intake_answers_polls_at_once_and_fail_unfinished_ends_the_rest():
    board = JobBoard()
    running = board.submit("x")
    await board.take(1, worker_id="w", timeout=1)
    queued = board.submit("y")
    board.close_intake()
    assert await asyncio.wait_for(board.take(1, worker_id="w", timeout=30), 1) == []
    assert await asyncio.wait_for(board.stop_ids(timeout=30), 1) == []
    assert board.fail_unfinished("the endpoint stopped") == 2
    for job in (running, queued):
        assert job.status is JobStatus.FAILED
        assert json.loads(job.error)["error"]["code"] == 503


async def test_purge_queue_releases_the_waiters_of_the_jobs_it_removes():
    board = JobBoard()
    running = board.submit("x", sync=True)
    await board.take(1, worker_id="w", timeout=1)
    queued = [board.submit(n, sync=True) for n in range(2)]
    waiters = [asyncio.create_task(board.wait_final(job, 30)) for job in (running, *queued)]
    await asyncio.sleep(0.01)
    assert board.purge_queue() == 2
    assert await asyncio.wait_for(asyncio.gather(*waiters[1:]), 1) == [True, True]
    assert not waiters[0].done()  # the running job goes on
    assert openai_answer(queued[0])[0] == 409
    assert board.health()["jobs"]["inQueue"] == 0
    assert await board.take(1, worker_id="w", timeout=0.05) == []
    board.finish(running.id, {"output": ["x"]})
    assert await asyncio.wait_for(waiters[0], 1)
