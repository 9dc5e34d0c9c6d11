"""``job_task.closed_when_task_ends``: a job's outputs are closed when the job's task ends,
wherever the cancel landed. The consumers here mimic RunPod's SDK, which awaits a POST between
two yields and keeps the abandoned generator referenced from its traceback."""

from __future__ import annotations

import asyncio
import gc
from contextlib import aclosing

import pytest

from sglang_worker.jobs.task import closed_when_task_ends


async def until_task_ends(outputs):
    """A handler that uses the hook as ``Worker.handle`` does."""
    with closed_when_task_ends(outputs):
        async with aclosing(outputs):
            async for output in outputs:
                yield output


class Outputs:
    """An output generator that records how it ended."""

    def __init__(self, count: int = 1000) -> None:
        self.count = count
        self.ended: str | None = None

    async def run(self):
        try:
            for index in range(self.count):
                yield index
            self.ended = "exhausted"
        except GeneratorExit:
            self.ended = "closed"
            raise
        except asyncio.CancelledError:
            self.ended = "cancelled"
            raise


async def until(condition, ticks: int = 20) -> None:
    for _ in range(ticks):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition did not hold within a few loop ticks")


@pytest.fixture
def no_collector():
    """What must close the generator is the task hook, not a garbage collection."""
    gc.disable()
    yield
    gc.enable()


async def test_a_cancel_outside_the_generator_closes_it_at_once(no_collector):
    outputs, kept, posting = Outputs(), [], asyncio.Event()

    async def sdk_like() -> None:
        wrapped = until_task_ends(outputs.run())
        kept.append(wrapped)  # as the SDK's traceback would
        async for _ in wrapped:
            posting.set()
            await asyncio.sleep(3600)  # the POST of that yield

    task = asyncio.create_task(sdk_like())
    await posting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: outputs.ended is not None)
    assert outputs.ended == "closed"


async def test_a_cancel_inside_the_generator_reaches_it_as_a_cancel():
    started = asyncio.Event()

    async def slow():
        started.set()
        await asyncio.sleep(3600)
        yield "never"

    ended = []

    async def recording():
        try:
            async for item in slow():
                yield item
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    async def consume() -> None:
        async for _ in until_task_ends(recording()):
            pass

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ended == ["cancelled"]


async def test_a_consumer_that_stops_reading_early_still_closes_it(no_collector):
    outputs, kept = Outputs(), []

    async def breaks_off() -> None:
        wrapped = until_task_ends(outputs.run())
        kept.append(wrapped)
        async for item in wrapped:
            if item == 2:
                break  # as the SDK does after an error output

    await asyncio.create_task(breaks_off())
    await until(lambda: outputs.ended is not None)
    assert outputs.ended == "closed"


async def test_a_generator_read_to_the_end_is_left_alone():
    outputs = Outputs(count=3)
    seen: list[int] = []

    async def reads_all() -> None:
        async for item in until_task_ends(outputs.run()):
            seen.append(item)

    task = asyncio.create_task(reads_all())
    await task
    assert seen == [0, 1, 2] and outputs.ended == "exhausted"


async def test_closing_the_wrapper_closes_the_outputs():
    outputs = Outputs()

    async def first_then_close() -> None:
        wrapped = until_task_ends(outputs.run())
        assert await anext(wrapped) == 0
        await wrapped.aclose()

    await asyncio.create_task(first_then_close())
    assert outputs.ended == "closed"


async def test_it_refuses_to_run_outside_a_task():
    loop = asyncio.get_running_loop()
    failure: asyncio.Future[BaseException] = loop.create_future()

    def drive_from_a_plain_callback() -> None:
        step = anext(until_task_ends(Outputs().run()))
        try:
            step.send(None)
        except RuntimeError as exc:
            failure.set_result(exc)

    loop.call_soon(drive_from_a_plain_callback)
    assert "inside an asyncio task" in str(await failure)
