"""The engine's stream as the pipeline hands it on, as pure functions.

Contract:
- ``until_error(events)``: the events before the first one that carries an engine error, and
  that error (``None`` when there is none), so a face can send what came before and then fail.
- ``sse_text(events)``: whole events as one string of raw SSE text, as SGLang wrote it.
- ``chunk_objects(events)``: the parsed JSON of each ``data`` event, ``[DONE]`` left out.
- ``completion_tokens(response)`` and ``stream_tokens(events)``: the completion token count of
  a response, or of the usage chunk a stream may end with (``stream_options``), for log lines.
"""

from __future__ import annotations

from typing import Any

import orjson

from sglang_worker.engine.events import engine_error_in
from sglang_worker.errors import WorkerError
from sglang_worker.sse import DONE_DATA, event_data


def until_error(events: list[bytes]) -> tuple[list[bytes], WorkerError | None]:
    for index, event in enumerate(events):
        error = engine_error_in(event)
        if error is not None:
            return events[:index], error
    return events, None


def sse_text(events: list[bytes]) -> str:
    return b"".join(events).decode("utf-8")


def chunk_objects(events: list[bytes]) -> list[Any]:
    chunks = []
    for event in events:
        data = event_data(event)
        if data is not None and data != DONE_DATA:
            chunks.append(orjson.loads(data))
    return chunks


def completion_tokens(response: Any) -> int | None:
    usage = response.get("usage") if isinstance(response, dict) else None
    return usage.get("completion_tokens") if isinstance(usage, dict) else None


def stream_tokens(events: list[bytes]) -> int | None:
    """Completion tokens from the usage chunk among the last two events, if there is one."""
    tail = events[-2:]
    if not any(b'"completion_tokens"' in event for event in tail):
        return None
    for chunk in reversed(chunk_objects(tail)):
        tokens = completion_tokens(chunk)
        if tokens is not None:
            return tokens
    return None
