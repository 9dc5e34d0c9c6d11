"""What the handler yields to the RunPod SDK: the output contract, as pure functions.

Contract:
- Non-streaming: exactly one yield, the engine's response object (a dict) as SGLang sent it.
- Streaming on the OpenAI route: strings of raw SSE text, each holding one or more whole
  events, the last being ``data: [DONE]\\n\\n``. The platform writes them to the client as is.
- Streaming on the native shapes: one parsed chunk object (dict) per yield, so ``/stream``
  consumers get a flat list of chunks; ``[DONE]`` is not yielded.
- Errors: ``{"error": "<JSON string of the OpenAI error body>"}``, which makes the SDK end the
  job as failed with that string. A failure after the OpenAI stream has started is first sent
  in-band as ``data: {"error": {...}}\\n\\n`` (without a ``[DONE]``, so no client mistakes the
  cut stream for a finished one), then ends the job the same way.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .errors import WorkerError
from .stream import DONE_DATA, event_data


def sse_text(events: list[bytes]) -> str:
    return b"".join(events).decode("utf-8")


def chunk_objects(events: list[bytes]) -> list[Any]:
    chunks = []
    for event in events:
        data = event_data(event)
        if data is not None and data != DONE_DATA:
            chunks.append(orjson.loads(data))
    return chunks


def sse_error_event(error: WorkerError) -> str:
    return f"data: {json.dumps(error.to_body(), ensure_ascii=False)}\n\n"


def job_error(error: WorkerError) -> dict[str, str]:
    return {"error": error.to_job_error()}
