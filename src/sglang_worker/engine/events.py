"""The engine's event stream: its bytes re-framed into whole events (``sse.SSEFramer``) and
batched, and the errors it sends inside it.

Contract:
- ``engine_error_in(event)`` recognises an error the engine sent inside the stream and returns
  it as a ``WorkerError``; ordinary token events are told apart by a substring test, without
  JSON parsing.
- ``batch_events(source, ...)`` yields lists of whole events. The first event is yielded the
  moment it arrives; later events that arrive within ``window_s`` of the previous yield are
  held and sent together when the window closes, so no event waits longer than the window and
  the stream's end is never held back. No batch grows past ``max_bytes`` (``within``; a
  larger event goes alone). While a window holds, unread events wait in aiohttp's buffer,
  which stops reading the socket at its high-water mark, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Protocol

from sglang_worker.errors import WorkerError, engine_error_from_body
from sglang_worker.sse import SSEFramer, event_data


class EventSource(Protocol):
    """What ``batch_events`` reads: the part of aiohttp's ``StreamReader`` it uses."""

    async def readany(self) -> bytes: ...
    async def wait_eof(self) -> None: ...
    def read_nowait(self, n: int = -1) -> bytes: ...


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


def within(events: list[bytes], max_bytes: int) -> list[list[bytes]]:
    """``events`` in order, cut into batches of at most ``max_bytes`` (an event larger than
    that goes alone)."""
    batches: list[list[bytes]] = []
    batch: list[bytes] = []
    size = 0
    for event in events:
        if batch and size + len(event) > max_bytes:
            batches.append(batch)
            batch, size = [], 0
        batch.append(event)
        size += len(event)
    if batch:
        batches.append(batch)
    return batches


async def batch_events(
    source: EventSource,
    *,
    window_s: float,
    max_bytes: int,
) -> AsyncIterator[list[bytes]]:
    """Yield batches of whole events read from ``source`` (the engine response's aiohttp
    ``StreamReader``).

    Inside a window the reader waits for the end of the stream or of the window, not for each
    event: the events that arrive meanwhile stay in aiohttp's buffer and are taken in one read
    when the window closes, so a stream costs one wake-up per window rather than one per token,
    and its end is sent the moment it comes. Raises ``ConnectionError`` if the stream ends
    inside an event, and the reader's own errors (its read timeout, a cut connection) as
    aiohttp raises them.
    """
    framer = SSEFramer()
    while True:
        chunk = await source.readany()
        if not chunk:
            break
        events = framer.feed(chunk)
        if not events:
            continue  # half an event: no window opens until one is sent
        for batch in within(events, max_bytes):
            yield batch
        while window_s > 0:
            window = asyncio.timeout(window_s)
            try:
                async with window:
                    await source.wait_eof()
            except TimeoutError:
                if not window.expired():
                    raise  # the reader's own deadline (the engine went silent), not the window
            held = framer.feed(source.read_nowait())
            if not held:
                break  # a quiet window: the next event is sent the moment it arrives
            for batch in within(held, max_bytes):
                yield batch
    if framer.pending:
        raise ConnectionError("the engine's stream ended in the middle of an event")
