"""What the worker sends to the engine: the route allowlist and body validation.

Contract:
- ``EngineRequest`` is the single description of one call to SGLang: route, method, body,
  whether it streams, and whether the job speaks the OpenAI route (raw SSE text out) or a native
  shape (parsed objects out).
- ``route`` is canonical (``routes.canonical_route``) and allowed (``routes.check_route``):
  only inference and read-only routes are reachable, never SGLang's admin routes.
- Bodies are validated with pydantic for shape only; the request's own dict is forwarded
  untouched (tools, response_format, logprobs ... pass through), except that a missing
  ``model`` is filled with the served model's name.
- An empty prompt is refused (``prompt: ""``, ``text: ""``, ``input_ids: []`` or an empty entry
  of a batch): SGLang 0.5.23's scheduler crashes on a zero-token sequence and takes the whole
  engine down, so one such job would kill the worker. Found by fuzzing.
- Token ids (a completions ``prompt`` of ints, ``/generate``'s ``input_ids``) must lie in the
  model's vocabulary, when the worker knows its size: SGLang 0.5.23 crashes on an id outside
  it, engine and all (found by fuzzing). Negative ids are always refused.
- Media the worker does not vet is refused rather than passed on, because SGLang would fetch
  or read it itself without an address check: chat content parts other than text and images
  (``video_url``, ``audio_url``, ``input_audio``, ``file`` ...) and ``/generate``'s
  ``video_data`` and ``audio_data``.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from sglang_worker.engine.client import EngineRequest
from sglang_worker.errors import InvalidRequest
from sglang_worker.routes import (
    CHAT_ROUTE,
    COMPLETIONS_ROUTE,
    GENERATE_ROUTE,
    check_route,
    is_read_route,
)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(_Open):
    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    stream: bool = False


def _not_empty(value: Any) -> Any:
    """A prompt, or every prompt of a batch, must have something to tokenize."""
    if value is None:
        return value
    entries = value if isinstance(value, list) and value and not isinstance(value[0], int) \
        else [value]
    if any(len(entry) == 0 for entry in entries):
        raise ValueError("is empty: SGLang cannot generate from zero tokens")
    return value


# Strict: pydantic would otherwise coerce false and 1e16 into token ids, and SGLang crashes on
# what it then receives.
TokenIds = list[StrictInt] | list[list[StrictInt]]


class CompletionBody(_Open):
    prompt: str | list[str] | TokenIds
    model: str | None = None
    stream: bool = False

    _prompt_not_empty = field_validator("prompt")(_not_empty)


class GenerateBody(_Open):
    text: str | list[str] | None = None
    input_ids: TokenIds | None = None
    sampling_params: dict[str, Any] | list[dict[str, Any]] | None = None
    stream: bool = False

    _inputs_not_empty = field_validator("text", "input_ids")(_not_empty)

    @model_validator(mode="after")
    def _one_input(self) -> GenerateBody:
        if self.text is None and self.input_ids is None:
            raise ValueError("give 'text' or 'input_ids'")
        return self


CONTENT_PART_TYPES = frozenset({"text", "image_url", "image"})
UNVETTED_GENERATE_FIELDS = ("video_data", "audio_data")

_BODY_MODELS: dict[str, type[BaseModel]] = {
    CHAT_ROUTE: ChatBody,
    COMPLETIONS_ROUTE: CompletionBody,
    GENERATE_ROUTE: GenerateBody,
}


def _param_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _refuse_unvetted_media(route: str, body: dict[str, Any]) -> None:
    if route == GENERATE_ROUTE:
        for field in UNVETTED_GENERATE_FIELDS:
            if body.get(field) is not None:
                raise InvalidRequest(f"{field} is not supported by this worker; only images "
                                     "are accepted", param=field)
    if route != CHAT_ROUTE:
        return
    for i, message in enumerate(body["messages"]):
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            kind = part.get("type")
            if kind not in CONTENT_PART_TYPES:
                where = f"messages[{i}].content[{j}]"
                raise InvalidRequest(
                    f"{where}: content part type {kind!r} is not supported by this worker "
                    f"(supported: {', '.join(sorted(CONTENT_PART_TYPES))})", param=where)


def _token_ids(value: Any) -> list[int]:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [i for row in value for i in row if isinstance(i, int)]
    if isinstance(value, list):
        return [i for i in value if isinstance(i, int)]
    return []


def _check_token_ids(route: str, body: dict[str, Any], vocab_size: int | None) -> None:
    field = "input_ids" if route == GENERATE_ROUTE else "prompt"
    for token in _token_ids(body.get(field)):
        if token < 0 or (vocab_size is not None and token >= vocab_size):
            limit = f"0 to {vocab_size - 1}" if vocab_size else "non-negative"
            raise InvalidRequest(f"{field}: token id {token} is outside the model's vocabulary "
                                 f"({limit})", param=field)


def validate_body(route: str, body: Any, *, served_model: str,
                  vocab_size: int | None = None) -> dict[str, Any]:
    """Check the body's shape for ``route`` and fill a missing ``model``; return the body."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body for {route} must be a JSON object, "
                             f"got {type(body).__name__}")
    model = _BODY_MODELS.get(route)
    if model is not None:
        try:
            model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = _param_path(first["loc"])
            message = f"{where}: {first['msg']}" if where else first["msg"]
            raise InvalidRequest(message, param=where or None) from None
        _refuse_unvetted_media(route, body)
        if route in (COMPLETIONS_ROUTE, GENERATE_ROUTE):
            _check_token_ids(route, body, vocab_size)
    if route != GENERATE_ROUTE and not body.get("model"):
        body = {**body, "model": served_model}
    return body


def build_request(route: str, body: Any, *, openai_route: bool, served_model: str,
                  vocab_size: int | None = None) -> EngineRequest:
    """The one place an ``EngineRequest`` is made: allowlist, method, validation, stream flag."""
    check_route(route)
    if is_read_route(route):
        return EngineRequest(route, "GET", None, stream=False, openai_route=openai_route)
    body = validate_body(route, body, served_model=served_model, vocab_size=vocab_size)
    return EngineRequest(route, "POST", body, stream=body.get("stream") is True,
                         openai_route=openai_route)
