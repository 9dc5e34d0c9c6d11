"""The worker's error types and their one wire format.

Contract:
- Every failure a user can see is a ``WorkerError``. Its ``to_body()`` is OpenAI's error body,
  ``{"error": {"message", "type", "param", "code"}}``, where ``code`` is the HTTP status the
  failure maps to (SGLang uses the same convention, so engine errors pass through unchanged).
- ``to_job_error()`` is that body JSON-encoded: the string handed to the RunPod SDK as the job's
  error. It is a string because the SDK turns any other value into Python repr text.
- A user's mistake (``InvalidRequest`` and its subclasses) never carries a traceback.
"""

from __future__ import annotations

import json
from typing import Any


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

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.status,
            }
        }

    def to_job_error(self) -> str:
        return json.dumps(self.to_body(), ensure_ascii=False)


class InvalidRequest(WorkerError):
    """The job input is malformed or asks for something the worker refuses."""

    status = 400
    error_type = "invalid_request_error"


class RouteNotAllowed(InvalidRequest):
    status = 404
    error_type = "not_found_error"


class ImageError(InvalidRequest):
    """An image part could not be used; ``param`` names the part, e.g. messages[0].content[2]."""


class VisionNotSupported(InvalidRequest):
    pass


class EngineRequestError(InvalidRequest):
    """SGLang refused the request (4xx): its own message and status are passed through.

    SGLang names the type after its exception class (``BadRequestError``); the worker reports
    OpenAI's ``invalid_request_error`` instead, so every 4xx looks the same to a client.
    """


class EngineUnavailable(WorkerError):
    """The engine died, is unreachable or failed (5xx): the job fails at once."""

    status = 503


class EngineTimeout(WorkerError):
    status = 504


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
