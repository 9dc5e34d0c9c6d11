"""What the handler yields to the RunPod SDK: the output contract.

Contract:
- Non-streaming: exactly one yield, the engine's response object (a dict) as SGLang sent it.
- Streaming on the OpenAI route: strings of raw SSE text, each holding one or more whole
  events, the last being ``data: [DONE]\\n\\n``. The platform writes them to the client as is.
- Streaming on the native shapes: one parsed chunk object (dict) per yield, so ``/stream``
  consumers get a flat list of chunks; ``[DONE]`` is not yielded.
- Errors: ``job_error(error)``, ``{"error": "<JSON string of the OpenAI error body>"}``, which
  makes the SDK end the job as failed with that string. A failure after the OpenAI stream has
  started is first sent in-band (``errors.sse_error_event``), then ends the job the same way.
"""

from __future__ import annotations

from sglang_worker.errors import ErrorShape, WorkerError


def job_error(error: WorkerError, shape: ErrorShape = "openai") -> dict[str, str]:
    return {"error": error.to_job_error(shape)}
