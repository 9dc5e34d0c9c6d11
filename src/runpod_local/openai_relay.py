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
- ``error_shape_of(route)``: the shape the route's errors take (``routes.Route.error_shape``),
  decided on its canonical form (``routes.canonical_route``); a route the worker will refuse
  takes OpenAI's. Every answer below takes that shape: on Anthropic's Messages API routes each
  error body is Anthropic's, ``{"type": "error", "error": {"type", "message"}}``, so the
  Anthropic SDK raises its own classes; on SGLang's retrieval routes SGLang's top-level body;
  elsewhere OpenAI's.
- ``stream_epilogue(job, shape)``: what closes an SSE response once its job ended. Nothing
  after a completed job (the worker's own last event ended the stream). After any other end an
  in-band error event, unless the worker already sent one: OpenAI's ``data: {"error": {...}}``,
  or on the Anthropic routes ``event: error`` and Anthropic's body; never a ``[DONE]``, so no
  client mistakes a cut stream for a finished one.
- ``openai_answer(job, shape)``: the (HTTP status, JSON body) of a finished non-streaming
  job, or of a streaming job that ended before its first event. COMPLETED: the worker's one
  yield (the response object) with 200. FAILED and TIMED_OUT: the job error
  (``error_from_job_error``), which the worker and the board write as the JSON string of
  OpenAI's error body whose ``code`` is the HTTP status (``errors.py``); the answer is that
  status with that body, so the OpenAI SDK raises the matching class (400
  ``BadRequestError``, 404 ``NotFoundError``, 5xx ``InternalServerError``). On the Anthropic
  routes the worker writes Anthropic's body instead: the answer is that body, at the status
  its type maps to (``errors.ANTHROPIC_STATUSES``, 500 for a type it does not know); an
  OpenAI-shaped error there (the board's own 503 and 504) keeps its status and takes
  Anthropic's shape. SGLang's top-level error body (the worker's on its retrieval routes,
  ``errors.sglang_error_body``) is the answer as it is, at the status its ``code`` says; an
  OpenAI-shaped error on those routes takes SGLang's shape. An error in another form (a
  traceback from the SDK) becomes a 500.
  CANCELLED: 409.
- Error bodies are the worker's own (``sglang_worker.errors``: ``openai_error_body``,
  ``error_body``): one builder for the worker, its HTTP face and this emulator.
"""

from __future__ import annotations

import json
import re
from typing import Any

from runpod_local.jobs import Job, JobStatus
from sglang_worker.errors import (
    ANTHROPIC_STATUSES,
    ErrorShape,
    InvalidRequest,
    error_body,
    openai_error_body,
)
from sglang_worker.routes import Route, canonical_route
from sglang_worker.sse import error_event

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


def error_shape_of(route: str) -> ErrorShape:
    try:
        return Route(canonical_route(route)).error_shape
    except InvalidRequest:
        return "openai"


def _parsed(error: Any) -> Any:
    """A job error as the JSON value it encodes, or None if it is text of another kind."""
    if not isinstance(error, str):
        return error
    try:
        return json.loads(error)
    except ValueError:
        return None


def _is_anthropic_body(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("type") == "error"
            and isinstance(value.get("error"), dict))


def _is_sglang_body(value: Any) -> bool:
    code = value.get("code") if isinstance(value, dict) else None
    return (isinstance(value, dict) and value.get("object") == "error" and isinstance(code, int)
            and 400 <= code <= 599)


def error_from_job_error(error: Any, shape: ErrorShape = "openai"
                         ) -> tuple[int, dict[str, Any]]:
    """The HTTP status and error body, in the route's ``shape``, carried by a job's error."""
    parsed = _parsed(error)
    if shape == "anthropic" and _is_anthropic_body(parsed):
        return ANTHROPIC_STATUSES.get(parsed["error"].get("type"), 500), parsed
    if _is_sglang_body(parsed):
        return parsed["code"], parsed
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        inner = parsed["error"]
        code = inner.get("code")
        status = code if isinstance(code, int) and 400 <= code <= 599 else 500
        message, param = str(inner.get("message", "the job failed")), inner.get("param")
        if shape != "openai":
            return status, error_body(status, message, param=param, shape=shape)
        return status, openai_error_body(status, message, param=param,
                                         error_type=inner.get("type"))
    if isinstance(parsed, dict) and "error_message" in parsed:  # the SDK caught an exception
        message = f"the handler raised {parsed.get('error_type')}: {parsed['error_message']}"
    else:
        message = str(error).split("\ntraceback:", 1)[0].strip() or "the job failed"
    return 500, error_body(500, message, shape=shape)


def openai_answer(job: Job, shape: ErrorShape = "openai") -> tuple[int, Any]:
    if job.status is JobStatus.COMPLETED:
        output = job.output
        if isinstance(output, list) and len(output) == 1:
            output = output[0]
        return 200, output
    if job.status is JobStatus.CANCELLED:
        return CANCELLED_STATUS, error_body(CANCELLED_STATUS, f"job {job.id} was cancelled",
                                            shape=shape)
    return error_from_job_error(job.error, shape)


def _sent_error(job: Job, shape: ErrorShape) -> bool:
    """Whether the worker's last yield ended with its own in-band error event."""
    last = job.streamed[-1] if job.streamed else None
    if not isinstance(last, str):
        return False
    event = last.rstrip().rsplit("\n\n", 1)[-1]
    return event.startswith("event: error" if shape == "anthropic" else 'data: {"error"')


def stream_epilogue(job: Job, shape: ErrorShape = "openai") -> bytes:
    if job.status is JobStatus.COMPLETED or _sent_error(job, shape):
        return b""
    _, body = openai_answer(job, shape)
    return error_event(body, anthropic=shape == "anthropic").encode()
