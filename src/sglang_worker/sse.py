"""Server-sent events, framed in one place: pure functions on text and bytes.

Contract:
- ``SSEFramer.feed(bytes)`` returns the events completed so far, each the raw bytes of one
  event ending in its blank line (``\\n\\n``; ``\\r\\n`` line endings are normalised). However
  the bytes are split across reads, the same events come out: never a split event.
- ``event_data(event)`` is the event's ``data`` payload (multi-line data joined by ``\\n``), or
  ``None`` for a comment-only event; ``DONE_DATA`` is OpenAI's end-of-stream payload and
  ``DONE_EVENT`` the whole event.
- ``data_event(value)``: a value as one ``data: <json>`` event.
- ``error_event(body, anthropic=...)``: an error body as one in-band event; Anthropic's has
  ``event: error`` before its data, OpenAI's is a plain data event (and neither is followed by
  ``[DONE]``, so no client mistakes a cut stream for a finished one).
Reading streams (the engine's, ``engine.events``) and writing them (``http.responses``) are
the edges' business.
"""

from __future__ import annotations

import json
from typing import Any

DONE_DATA = "[DONE]"
DONE_EVENT = b"data: [DONE]\n\n"
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


def data_event(value: Any) -> str:
    return f"data: {json.dumps(value, ensure_ascii=False)}\n\n"


def error_event(body: dict[str, Any], *, anthropic: bool = False) -> str:
    return ("event: error\n" if anthropic else "") + data_event(body)
