"""The worker's error types and their one wire format.

The tree (HTTP status, OpenAI error type; start-up errors also carry the process exit code)::

    WorkerError                 500 server_error
    ├── InvalidRequest          400 invalid_request_error: the caller's mistake
    │   ├── RouteNotAllowed     404 not_found_error: an admin or unknown route
    │   ├── ModelNotFound       404: ``/v1/models/{id}`` of a model this worker does not serve
    │   ├── BodyTooLarge        413: an HTTP request body over the route's limit
    │   ├── MediaPartError      400: a media part could not be used; param names the part
    │   │   └── ImageError, VideoError, AudioError (one per medium)
    │   ├── VisionNotSupported  400: images or videos sent to a model without vision
    │   ├── AudioNotSupported   400: audio sent to a model without audio input
    │   └── EngineRequestError  SGLang's own 4xx, status and message passed through
    ├── EngineUnavailable       503: the engine died, is unreachable or failed (5xx)
    │   └── WorkerNotStarted    503: it never started; the message says what to change
    ├── EngineTimeout           504: the engine went silent
    └── StartupError            the worker cannot start serving; exit code 1
        ├── EngineConfigError   exit 2: a setting is wrong; a restart will not help
        └── EngineStartError    exit 1: the engine failed to start or become healthy;
                                ``tail`` holds its last output (``engine.start_failure``
                                reads it to tell a lasting cause from a passing one) and
                                ``revision`` the revision it was asked for

Contract:
- Every failure a user can see is a ``WorkerError``. Its ``to_body()`` is OpenAI's error body,
  ``{"error": {"message", "type", "param", "code"}}``, where ``code`` is the HTTP status the
  failure maps to (SGLang uses the same convention, so engine errors pass through unchanged).
  ``openai_error_body`` is the one builder of that body, for the worker's errors and for the
  HTTP faces' own (a 413 body limit, a cancelled job).
- ``to_job_error()`` is that body JSON-encoded: the string handed to the RunPod SDK as the job's
  error. It is a string because the SDK turns any other value into Python repr text.
- On Anthropic's Messages API routes the same error takes Anthropic's shape instead
  (``anthropic_error_body``: ``{"type": "error", "error": {"type", "message"}}``, the type
  from the HTTP status as SGLang maps it), so the Anthropic SDK raises its own classes;
- On SGLang's own retrieval routes (``/v1/score``, ``/v1/rerank``, ``/v1/classify``) the error
  takes SGLang's top-level shape (``sglang_error_body``: ``{"object": "error", "message",
  "type", "param", "code"}``, the type from the HTTP status as SGLang names it, 400
  ``BadRequestError``), because those routes have no SDK: their clients (SGLang's own tests
  among them) read the body bare SGLang sends.
- Which of the three a failure takes is one ``ErrorShape`` ("openai", "anthropic", "sglang"):
  ``error_body(..., shape=)``, ``to_body(shape)``, ``to_job_error(shape)`` and
  ``sse_error_event(error, shape)`` take it, and the faces pass the route's, as decided at the
  door (``routes.Route.error_shape``).
- ``sse_error_event(error)`` is the same body as one in-band SSE event (``sse.error_event``
  frames any error body so, for the local endpoint's own errors too), for a stream that has
  already started: ``data: {"error": {...}}`` (Anthropic: ``event: error``, then its body)
  and no ``[DONE]``, so no client mistakes the cut stream for a finished one.
- A user's mistake (``InvalidRequest`` and its subclasses) never carries a traceback.
- ``StartupError.exit_code`` is what ``main`` exits with when start-up fails. While a worker
  holds after a lasting start-up failure (``START_FAILURE_HOLD_S``), every job and request
  fails with ``WorkerNotStarted`` (503), whose message is the cause.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from sglang_worker.sse import error_event

ErrorShape = Literal["openai", "anthropic", "sglang"]

# The OpenAI error type for a status, where the error has none of its own.
_TYPES = {400: "invalid_request_error", 404: "not_found_error", 409: "conflict_error",
          413: "invalid_request_error"}


# Anthropic's error types by HTTP status (as SGLang's own /v1/messages maps them), and back.
ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                   403: "permission_error", 404: "not_found_error", 409: "invalid_request_error",
                   413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                   503: "overloaded_error"}
ANTHROPIC_STATUSES = {kind: status for status, kind in ANTHROPIC_TYPES.items()
                      if status != 409}


def openai_error_body(status: int, message: str, *, param: str | None = None,
                      error_type: str | None = None) -> dict[str, Any]:
    kind = error_type or _TYPES.get(status, "server_error" if status >= 500 else
                                    "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    kind = ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else
                               "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


# SGLang's error types by HTTP status, as its OpenAI-compatible serving layer names them.
SGLANG_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError",
                500: "InternalServerError", 503: "ServiceUnavailableError", 504: "TimeoutError"}


def sglang_error_body(status: int, message: str, *, param: str | None = None) -> dict[str, Any]:
    kind = SGLANG_TYPES.get(status, "InternalServerError" if status >= 500 else
                            "BadRequestError")
    return {"object": "error", "message": message, "type": kind, "param": param, "code": status}


def error_body(status: int, message: str, *, param: str | None = None,
               shape: ErrorShape = "openai") -> dict[str, Any]:
    """The error body in a route's shape: Anthropic's on its routes, SGLang's on its retrieval
    routes, OpenAI's elsewhere."""
    if shape == "sglang":
        return sglang_error_body(status, message, param=param)
    if shape == "anthropic":
        where = f"{param}: " if param and not message.startswith(param) else ""
        return anthropic_error_body(status, where + message)
    return openai_error_body(status, message, param=param)


class WorkerError(Exception):
    """Base class: a failure with a message a user can act on."""

    status: int = 500
    error_type: str = "server_error"

    def __init__(self, message: str, *, param: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if status is not None:
            self.status = status

    def to_body(self, shape: ErrorShape = "openai") -> dict[str, Any]:
        if shape != "openai":
            return error_body(self.status, self.message, param=self.param, shape=shape)
        return openai_error_body(self.status, self.message, param=self.param,
                                 error_type=self.error_type)

    def to_job_error(self, shape: ErrorShape = "openai") -> str:
        return json.dumps(self.to_body(shape), ensure_ascii=False)


class InvalidRequest(WorkerError):
    """The job input is malformed or asks for something the worker refuses."""

    status = 400
    error_type = "invalid_request_error"


class RouteNotAllowed(InvalidRequest):
    status = 404
    error_type = "not_found_error"


class ModelNotFound(InvalidRequest):
    status = 404


class BodyTooLarge(InvalidRequest):
    status = 413


class MediaPartError(InvalidRequest):
    """A media part (image, video or audio) could not be used; ``param`` names the part."""


class ImageError(MediaPartError):
    """An image part could not be used; ``param`` names the part, e.g. messages[0].content[2]."""


class VideoError(MediaPartError):
    """A video part could not be used; ``param`` names the part, e.g. messages[0].content[1]."""


class AudioError(MediaPartError):
    """An audio part could not be used; ``param`` names the part, e.g. messages[0].content[1]."""


_MEDIA_ERRORS: dict[str, type[MediaPartError]] = {"image": ImageError, "video": VideoError,
                                                   "audio": AudioError}


def media_error(noun: str, message: str, param: str | None = None) -> MediaPartError:
    """The error of a part of medium ``noun`` ("image", "video" or "audio"), for the code the
    media share."""
    return _MEDIA_ERRORS[noun](message, param=param)


def earliest_media_error(failures: BaseExceptionGroup, params: Sequence[str]) -> BaseException:
    """The failure to report from a request's media tasks: a bug as it is, else the media part
    error earliest in the request (``params``: the parts' names in request order)."""
    errors = list(failures.exceptions)
    unexpected = [e for e in errors if not isinstance(e, MediaPartError)]
    if unexpected:
        return unexpected[0]
    order = {param: i for i, param in enumerate(params)}
    return min(errors, key=lambda e: order.get(e.param, len(params)))


class VisionNotSupported(InvalidRequest):
    pass


class AudioNotSupported(InvalidRequest):
    pass


class EngineRequestError(InvalidRequest):
    """SGLang refused the request (4xx): its own message and status are passed through.

    SGLang names the type after its exception class (``BadRequestError``); the worker reports
    OpenAI's ``invalid_request_error`` instead, so every 4xx looks the same to a client.
    """


class EngineUnavailable(WorkerError):
    """The engine died, is unreachable or failed (5xx): the job fails at once."""

    status = 503


class WorkerNotStarted(EngineUnavailable):
    """The engine could not start, for a reason a restart will not fix: every job and
    request fails with the cause until the worker exits (``START_FAILURE_HOLD_S``)."""


class EngineTimeout(WorkerError):
    status = 504


class StartupError(WorkerError):
    """The worker cannot start serving; ``main`` exits with ``exit_code``."""

    exit_code = 1


class EngineConfigError(StartupError):
    """The engine cannot be configured from the environment (reported at start-up)."""

    exit_code = 2


class EngineStartError(StartupError):
    """The engine could not be started; the message holds the reason and its last output,
    ``tail`` that output alone (redacted)."""

    def __init__(self, message: str, *, tail: str = "", revision: str | None = None):
        super().__init__(message)
        self.tail = tail
        self.revision = revision  # the revision the engine was asked for (None: main)


def sse_error_event(error: WorkerError, shape: ErrorShape = "openai") -> str:
    return error_event(error.to_body(shape), anthropic=shape == "anthropic")


def engine_error_from_body(status: int, body: bytes) -> WorkerError:
    """Map an SGLang error response to a worker error, keeping SGLang's own message.

    SGLang answers ``{"object": "error", "message", "type", "param", "code"}``; FastAPI's own
    validation errors are ``{"detail": ...}``; anything else is passed on as text.
    """
    text = body.decode("utf-8", "replace").strip()
    message, param = text or f"engine returned HTTP {status}", None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        inner = parsed.get("error") if isinstance(parsed.get("error"), dict) else parsed
        if "message" in inner:
            message = str(inner["message"])
            param = inner.get("param")
        elif "detail" in inner:
            message = json.dumps(inner["detail"], ensure_ascii=False)
    if status >= 500:
        return EngineUnavailable(f"the engine failed on this request (HTTP {status}): {message}",
                                 status=status)
    return EngineRequestError(message, status=status, param=param)
