"""Tie a job's output generator to the asyncio task that runs the job.

Why: RunPod's SDK runs each job as one task and iterates the handler's generator inside a
generator of its own, posting every yield before it asks for the next one. When the job is
cancelled (``/cancel``, a client that went away, an execution timeout) while that post is in
flight, the ``CancelledError`` lands in the SDK's code, not in the handler: the handler's
generator is left suspended at a ``yield``, still holding its SGLang stream, and the SDK's
traceback keeps it referenced. Python closes such a generator only when it is finally
collected, which can take arbitrarily long, and until then SGLang keeps generating for nobody.

Contract:
- ``with closed_when_task_ends(outputs):`` entered inside the task that consumes ``outputs``.
  If that task ends (cancelled, failed, or done without reading to the end) while ``outputs``
  is unfinished and the block has not been left, ``outputs.aclose()`` is scheduled at once, so
  its ``finally`` blocks (closing the engine request, logging the job) run now rather than at
  garbage collection. Leaving the block removes the hook. Outside a task: ``RuntimeError``.
- It adds nothing per yield: the hook is one task callback, registered once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Any

# Strong references to the close-up tasks: the event loop keeps only weak ones.
_closing: set[asyncio.Task[None]] = set()


@contextmanager
def closed_when_task_ends(outputs: AsyncGenerator[Any, None]) -> Iterator[None]:
    task = asyncio.current_task()
    if task is None:  # not run by an asyncio task: nothing to tie the generator to
        raise RuntimeError("closed_when_task_ends must be entered inside an asyncio task")

    def on_task_end(_: asyncio.Task) -> None:
        if outputs.ag_frame is not None and not outputs.ag_running:
            closing = asyncio.get_running_loop().create_task(outputs.aclose())
            _closing.add(closing)
            closing.add_done_callback(_closing.discard)

    task.add_done_callback(on_task_end)
    try:
        yield
    finally:
        task.remove_done_callback(on_task_end)
