"""Tie a job's output generator to the asyncio task that runs the job.

Why: RunPod's SDK runs each job as one task and iterates the handler's generator inside a
generator of its own, posting every yield before it asks for the next one. When the job is
cancelled (``/cancel``, a client that went away, an execution timeout) while that post is in
flight, the ``CancelledError`` lands in the SDK's code, not in the handler: the handler's
generator is left suspended at a ``yield``, still holding its SGLang stream, and the SDK's
traceback keeps it referenced. Python closes such a generator only when it is finally
collected, which can take arbitrarily long, and until then SGLang keeps generating for nobody.

Contract:
- ``until_task_ends(outputs)`` yields what ``outputs`` yields. If the task consuming it ends
  (cancelled, failed, or done without reading to the end) while ``outputs`` is unfinished,
  ``outputs.aclose()`` is scheduled at once, so its ``finally`` blocks (closing the engine
  request, logging the job) run now rather than at garbage collection.
- Closing the wrapper closes ``outputs`` too, and a normal end removes the hook.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TypeVar

T = TypeVar("T")

# Strong references to the close-up tasks: the event loop keeps only weak ones.
_closing: set[asyncio.Task[None]] = set()


def _close_later(outputs: AsyncGenerator[T, None]) -> None:
    closing = asyncio.get_running_loop().create_task(outputs.aclose())
    _closing.add(closing)
    closing.add_done_callback(_closing.discard)


async def until_task_ends(outputs: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    task = asyncio.current_task()
    if task is None:  # not run by an asyncio task: nothing to tie the generator to
        raise RuntimeError("until_task_ends must be iterated inside an asyncio task")

    def on_task_end(_: asyncio.Task) -> None:
        if outputs.ag_frame is not None and not outputs.ag_running:
            _close_later(outputs)

    task.add_done_callback(on_task_end)
    try:
        async with aclosing(outputs):
            async for output in outputs:
                yield output
    finally:
        task.remove_done_callback(on_task_end)
