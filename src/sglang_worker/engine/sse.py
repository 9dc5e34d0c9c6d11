"""Server-sent events: re-frame the engine's byte stream into whole events, and batch them.

Contract:
- ``SSEFramer.feed(bytes)`` returns the events completed so far, each the raw bytes of one
  event ending in its blank line (``\\n\\n``; ``\\r\\n`` line endings are normalised). However
  the bytes are split across reads, the same events come out: never a split event.
- ``event_data(event)`` is the event's ``data`` payload (multi-line data joined by ``\\n``), or
  ``None`` for a comment-only event.
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

DONE_DATA = "[DONE]"
_SEPARATOR = b"\n\n"


class SSEFramer:
    """Incremental splitter of an SSE byte stream into whole events."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        if b"\r" in buffer:
            # A trailing "\r" may be the first half of a "\r\n" split across reads: keep it.
            keep_cr = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n")
            if keep_cr:
                buffer, tail = buffer[:-1], b"\r"
            else:
                tail = b""
        else:
            tail = b""
        end = buffer.rfind(_SEPARATOR)
        if end < 0:
            self._buffer = buffer + tail
            return []
        complete, self._buffer = buffer[: end + 2], buffer[end + 2 :] + tail
        parts = complete.split(_SEPARATOR)
        return [part + _SEPARATOR for part in parts[:-1] if part.strip(b"\n")]

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet completed (non-empty at EOF means a cut stream)."""
        return self._buffer.strip(b"\r\n")


def event_data(event: bytes) -> str | None:
    lines = [
        line[5:].removeprefix(b" ")
        for line in event.split(b"\n")
        if line.startswith(b"data:")
    ]
    if not lines:
        return None
    return b"\n".join(lines).decode("utf-8")


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
