"""The engine's event stream: its bytes re-framed into whole events (``sse.SSEFramer``) and
batched, and the errors it sends inside it.

Contract:
- ``engine_error_in(event)`` recognises an error the engine sent inside the stream and returns
  it as a ``WorkerError``; ordinary token events are told apart by a substring test, without
  JSON parsing.
- ``batch_events(read, ...)`` yields lists of whole events. The first event is yielded the
  moment it arrives; later events that arrive within ``window_s`` of the previous yield are
  held and sent together when the window closes (or when the batch reaches ``max_bytes``), so
  no event waits longer than the window.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from sglang_worker.errors import WorkerError, engine_error_from_body
from sglang_worker.sse import SSEFramer, event_data


def engine_error_in(event: bytes) -> WorkerError | None:
    """The error carried by an engine event, if it is one (SGLang or OpenAI shape)."""
    if b'"error"' not in event:
        return None
    data = event_data(event)
    try:
        payload = json.loads(data) if data else None
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if payload.get("object") == "error" or isinstance(payload.get("error"), dict):
        inner = payload.get("error", payload)
        status = inner.get("code") if isinstance(inner.get("code"), int) else 500
        return engine_error_from_body(status, json.dumps(payload).encode())
    return None


async def batch_events(
    read: Callable[[], Awaitable[bytes]],
    *,
    window_s: float,
    max_bytes: int,
) -> AsyncIterator[list[bytes]]:
    """Yield batches of whole events read through ``read`` (which returns b"" at EOF).

    Raises ``ConnectionError`` if the stream ends inside an event.
    """
    loop = asyncio.get_running_loop()
    framer = SSEFramer()
    pending: list[bytes] = []
    pending_bytes = 0
    last_yield = float("-inf")
    while True:
        window = asyncio.timeout_at(last_yield + window_s if pending else None)
        try:
            async with window:
                chunk = await read()
        except TimeoutError:
            if not window.expired():
                raise  # the reader's own deadline (the engine went silent), not the window
            last_yield = loop.time()
            yield pending
            pending, pending_bytes = [], 0
            continue
        if not chunk:
            break
        for event in framer.feed(chunk):
            pending.append(event)
            pending_bytes += len(event)
        if pending and (loop.time() - last_yield >= window_s or pending_bytes >= max_bytes):
            last_yield = loop.time()
            yield pending
            pending, pending_bytes = [], 0
    if pending:
        yield pending
    if framer.pending:
        raise ConnectionError("the engine's stream ended in the middle of an event")
