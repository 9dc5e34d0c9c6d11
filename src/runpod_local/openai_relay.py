"""The OpenAI face of a job, as pure functions: the job RunPod builds from an OpenAI request,
and the HTTP answer a client gets from the job's outputs and end state.

Contract:
- ``openai_route_of(target)``: the ``openai_route`` of a request to ``[/v2/<id>]/openai/v1...``:
  the request target from ``/v1`` on, exactly as the client sent it (still percent-encoded, dot
  segments and all, query dropped), or None for any other target. The worker, not the
  endpoint, canonicalises and checks it, as it must for whatever RunPod hands it.
- ``openai_job_input(route, method, body)``: ``{"openai_route": route, "openai_input": body}``,
  as RunPod's ``/openai/v1/...`` builds it. A GET (``/v1/models``) carries no ``openai_input``.
- On the wire, each worker yield is ``http.responses.sse_bytes(output)``: on this route the
  worker yields raw SSE text and it goes out unchanged.
- ``stream_epilogue(job)``: what closes an SSE response once its job ended. Nothing after a
  completed job (the worker's own ``data: [DONE]`` was the last yield). After any other end an
  in-band ``data: {"error": {...}}`` event, unless the worker already sent one, and no
  ``[DONE]``, so no client mistakes a cut stream for a finished one.
- ``openai_answer(job)``: the (HTTP status, JSON body) of a finished non-streaming job, or of a
  streaming job that ended before its first event. COMPLETED: the worker's one yield (the
  response object) with 200. FAILED and TIMED_OUT: the job error, which the worker and the
  board write as the JSON string of OpenAI's error body whose ``code`` is the HTTP status
  (``errors.py``); the answer is that status with that body, so the OpenAI SDK raises the
  matching class (400 ``BadRequestError``, 404 ``NotFoundError``, 5xx ``InternalServerError``).
  An error in another form (a traceback from the SDK) becomes a 500. CANCELLED: 409.
- Error bodies are the worker's own (``sglang_worker.errors.openai_error_body``): one builder
  for the worker, its HTTP face and this emulator.
"""

from __future__ import annotations

import json
import re
from typing import Any

from runpod_local.jobs import Job, JobStatus
from sglang_worker.errors import openai_error_body
from sglang_worker.http.responses import sse_bytes

CANCELLED_STATUS = 409
_OPENAI_TARGET = re.compile(r"(?:/v2/[^/]+)?/openai(/v1(?:[/\\].*)?)")


def openai_route_of(target: str) -> str | None:
    match = _OPENAI_TARGET.fullmatch(target.split("?", 1)[0])
    return match.group(1) if match else None


def openai_job_input(route: str, method: str, body: dict[str, Any] | None) -> dict[str, Any]:
    job_input: dict[str, Any] = {"openai_route": route}
    if method != "GET":
        job_input["openai_input"] = body
    return job_input


def error_from_job_error(error: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status and OpenAI error body carried by a job's error."""
    parsed: Any = error
    if isinstance(error, str):
        try:
            parsed = json.loads(error)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        inner = parsed["error"]
        code = inner.get("code")
        status = code if isinstance(code, int) and 400 <= code <= 599 else 500
        return status, openai_error_body(
            status, str(inner.get("message", "the job failed")), param=inner.get("param"),
            error_type=inner.get("type"))
    if isinstance(parsed, dict) and "error_message" in parsed:  # the SDK caught an exception
        message = f"the handler raised {parsed.get('error_type')}: {parsed['error_message']}"
    else:
        message = str(error).split("\ntraceback:", 1)[0].strip() or "the job failed"
    return 500, openai_error_body(500, message)


def openai_answer(job: Job) -> tuple[int, Any]:
    if job.status is JobStatus.COMPLETED:
        output = job.output
        if isinstance(output, list) and len(output) == 1:
            output = output[0]
        return 200, output
    if job.status is JobStatus.CANCELLED:
        return CANCELLED_STATUS, openai_error_body(CANCELLED_STATUS,
                                                   f"job {job.id} was cancelled")
    return error_from_job_error(job.error)


def stream_epilogue(job: Job) -> bytes:
    if job.status is JobStatus.COMPLETED:
        return b""
    last = job.streamed[-1] if job.streamed else None
    if isinstance(last, str) and last.rstrip().rsplit("\n\n", 1)[-1].startswith(
            'data: {"error"'):
        return b""  # the worker already sent the error in-band
    _, body = openai_answer(job)
    return sse_bytes(body)
