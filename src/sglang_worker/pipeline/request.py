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
  or read it itself without an address check (``pipeline.media``, one allowlist per API).
- OpenAI's Responses API: ``store`` is off (SGLang's default is on, and a stored response
  lives in one worker's memory, out of reach behind RunPod's load balancing), so an explicit
  ``store: true``, ``previous_response_id``, ``conversation`` and ``background: true`` are a
  400 that says why. Tools and ``text.format`` pass through.
- Anthropic's Messages API: ``messages`` and ``max_tokens`` are required, as Anthropic's API
  has them; ``count_tokens`` needs ``messages``.
- ``n`` (and ``best_of``, and ``/generate``'s ``sampling_params.n``) above ``max_n``
  (``MAX_N``) is a 400: each is a whole generation.
- SGLang's image-sizing knobs on a request (``max_dynamic_patch``, ``min_dynamic_patch``)
  are dropped: the worker sizes every image itself (``images/``), so they would only let a
  caller ask for more image tokens than the deployment allows. The same knobs on an image
  part are dropped by ``images.parts``.
- A shape error says what the field accepts ("messages[0].content must be a string or a list
  of content parts"), never pydantic's internal union branch names.
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
from sglang_worker.pipeline.media import refuse_unvetted_media
from sglang_worker.routes import (
    CHAT_ROUTE,
    COMPLETIONS_ROUTE,
    COUNT_TOKENS_ROUTE,
    GENERATE_ROUTE,
    MESSAGES_ROUTE,
    RESPONSES_ROUTE,
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


class ResponsesBody(_Open):
    input: str | list[dict[str, Any]]
    model: str | None = None
    stream: bool = False


class AnthropicMessage(_Open):
    role: str
    content: str | list[dict[str, Any]]


class CountTokensBody(_Open):
    messages: list[AnthropicMessage] = Field(min_length=1)
    model: str | None = None


class MessagesBody(CountTokensBody):
    max_tokens: StrictInt
    stream: bool = False


_BODY_MODELS: dict[str, type[BaseModel]] = {
    CHAT_ROUTE: ChatBody,
    COMPLETIONS_ROUTE: CompletionBody,
    GENERATE_ROUTE: GenerateBody,
    RESPONSES_ROUTE: ResponsesBody,
    MESSAGES_ROUTE: MessagesBody,
    COUNT_TOKENS_ROUTE: CountTokensBody,
}
# What a field with several accepted shapes accepts, for errors in the caller's words.
ACCEPTS = {
    "content": "a string or a list of content parts",
    "prompt": "a non-empty string, a list of strings, a list of token ids, or a list of lists "
              "of token ids",
    "text": "a non-empty string or a list of strings",
    "input_ids": "a list of token ids or a list of lists of token ids",
    "sampling_params": "an object or a list of objects",
    "input": "a string or a list of input items",
}
_TYPE_NAMES = frozenset({"str", "int", "list", "dict"})
DROPPED_KNOBS = ("max_dynamic_patch", "min_dynamic_patch")
STATEFUL_RESPONSES_FIELDS = {
    "previous_response_id": "previous_response_id is not supported: this worker stores no "
    "responses, because a stored response lives in one worker's memory and RunPod may route "
    "the next request to another worker; send the earlier turns as input instead",
    "conversation": "conversation is not supported: this worker stores no conversations; send "
    "the earlier turns as input instead",
}


def _param_path(loc: tuple[Any, ...]) -> tuple[str, bool]:
    """The caller's path to an error (``messages[0].content``), and whether pydantic's path
    went on into a union's branches (which the caller never wrote)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.isidentifier() or (  # a branch: "str", "list[dict[str,any]]" ...
                part in _TYPE_NAMES and path.rsplit(".", 1)[-1] in ACCEPTS):
            return path, True
        else:
            path += f".{part}" if path else part
    return path, False


def _shape_error(exc: ValidationError) -> InvalidRequest:
    first = exc.errors(include_url=False)[0]
    where, in_union = _param_path(first["loc"])
    field = where.rsplit(".", 1)[-1].split("[", 1)[0]
    if in_union and field in ACCEPTS and where.endswith(field):
        message = f"{where} must be {ACCEPTS[field]}"
    else:
        message = f"{where}: {first['msg']}" if where else first["msg"]
    return InvalidRequest(message, param=where or None)


def _check_n(route: str, body: dict[str, Any], max_n: int | None) -> None:
    if max_n is None:
        return
    fields: list[tuple[str, Any]] = [("n", body.get("n")), ("best_of", body.get("best_of"))]
    if route == GENERATE_ROUTE:
        params = body.get("sampling_params")
        for i, entry in enumerate(params if isinstance(params, list) else [params]):
            if isinstance(entry, dict):
                fields.append((f"sampling_params{f'[{i}]' if isinstance(params, list) else ''}.n",
                               entry.get("n")))
    for name, value in fields:
        if isinstance(value, int) and not isinstance(value, bool) and value > max_n:
            raise InvalidRequest(f"{name} is {value}, over this worker's limit of {max_n} "
                                 "(MAX_N): each is a whole generation", param=name)


def _check_responses_state(body: dict[str, Any]) -> dict[str, Any]:
    for field, why in STATEFUL_RESPONSES_FIELDS.items():
        if body.get(field) is not None:
            raise InvalidRequest(why, param=field)
    if body.get("store") is True:
        raise InvalidRequest("store: true is not supported: this worker stores no responses, "
                             "because a stored response lives in one worker's memory and "
                             "RunPod may route the next request to another worker; leave "
                             "store unset or false", param="store")
    if body.get("background") is True:
        raise InvalidRequest("background: true is not supported: a background response would "
                             "have to be fetched later from the worker that ran it, which "
                             "RunPod's routing does not allow; stream instead",
                             param="background")
    return {**body, "store": False}


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


def validate_body(route: str, body: Any, *, served_model: str, vocab_size: int | None = None,
                  max_n: int | None = None) -> dict[str, Any]:
    """Check the body's shape for ``route`` and fill a missing ``model``; return the body."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body for {route} must be a JSON object, "
                             f"got {type(body).__name__}")
    model = _BODY_MODELS.get(route)
    if model is not None:
        try:
            model.model_validate(body)
        except ValidationError as exc:
            raise _shape_error(exc) from None
        refuse_unvetted_media(route, body)
        if route in (COMPLETIONS_ROUTE, GENERATE_ROUTE):
            _check_token_ids(route, body, vocab_size)
        _check_n(route, body, max_n)
    if route == RESPONSES_ROUTE:
        body = _check_responses_state(body)
    if any(knob in body for knob in DROPPED_KNOBS):
        body = {key: value for key, value in body.items() if key not in DROPPED_KNOBS}
    if route != GENERATE_ROUTE and not body.get("model"):
        body = {**body, "model": served_model}
    return body


def build_request(route: str, body: Any, *, openai_route: bool, served_model: str,
                  vocab_size: int | None = None, max_n: int | None = None) -> EngineRequest:
    """The one place an ``EngineRequest`` is made: allowlist, method, validation, stream flag."""
    check_route(route)
    if is_read_route(route):
        return EngineRequest(route, "GET", None, stream=False, openai_route=openai_route)
    body = validate_body(route, body, served_model=served_model, vocab_size=vocab_size,
                         max_n=max_n)
    return EngineRequest(route, "POST", body, stream=body.get("stream") is True,
                         openai_route=openai_route)
