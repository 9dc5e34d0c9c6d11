"""What the worker sends to the engine: one ``EngineRequest`` per call, its body validated.

Contract:
- ``build_request(route, body)`` makes the single description of one call to SGLang
  (``EngineRequest``: path, method, body, whether it streams) from a ``routes.Route`` a face
  decided at its door (``routes.parse_route``: canonical and allowed, so only inference and
  read-only routes are reachable, never SGLang's admin routes). How the answer is framed for
  the caller is the face's business, not the request's.
- ``/v1/models/{id}`` becomes a GET of ``/v1/models`` with ``model_id`` set: the pipeline
  answers with that model's entry (``pipeline.models``), so the caller's id never reaches SGLang.
- Each inference route's body is checked by its API module (``apis``): its body model (shape
  only: the request's own dict is forwarded untouched, tools, response_format, logprobs ...
  pass through), its field rules (refused fields are a 400 that says why, dropped fields such as
  SGLang's image-sizing knobs are removed), its content rules (media the worker does not vet is
  refused, because SGLang would fetch or read it itself without an address check), and what it
  sets on every body (Responses: ``store`` off). A missing ``model`` is filled with the served
  model's name (not on ``/generate``, which has none).
- An empty prompt is refused (``prompt: ""``, ``text: ""``, ``input_ids: []`` or an empty entry
  of a batch): SGLang 0.5.23's scheduler crashes on a zero-token sequence and takes the whole
  engine down, so one such job would kill the worker. Found by fuzzing.
- Token ids (an API's ``token_fields``: a completions ``prompt`` of ints, ``input_ids`` of chat
  and ``/generate``, an embeddings ``input`` of ints) must lie in the model's vocabulary, when
  the worker knows its size: SGLang 0.5.23 crashes on an id outside it, engine and all (found by
  fuzzing). Negative ids are always refused.
- ``stream: true`` on a route that cannot stream (embeddings, score, rerank, classify,
  tokenize, token counting: ``Api.streams``) is a 400 naming ``stream``, not a stream the
  engine never sends.
- ``n`` (and ``best_of``, and ``/generate``'s ``sampling_params.n``) above ``max_n``
  (``MAX_N``) is a 400: each is a whole generation.
- A shape error says what the field accepts ("messages[0].content must be a string or a list
  of content parts"), never pydantic's internal union branch names.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sglang_worker.apis import Api, api_for
from sglang_worker.engine.client import EngineRequest
from sglang_worker.errors import InvalidRequest
from sglang_worker.routes import GENERATE_ROUTE, MODELS_ROUTE, Route

_TYPE_NAMES = frozenset({"str", "int", "list", "dict"})


def _param_path(loc: tuple[Any, ...], accepts: dict[str, str]) -> tuple[str, bool]:
    """The caller's path to an error (``messages[0].content``), and whether pydantic's path
    went on into a union's branches (which the caller never wrote)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.isidentifier() or (  # a branch: "str", "list[dict[str,any]]" ...
                part in _TYPE_NAMES and path.rsplit(".", 1)[-1].split("[", 1)[0] in accepts):
            return path, True
        else:
            path += f".{part}" if path else part
    return path, False


def _shape_error(exc: ValidationError, accepts: dict[str, str]) -> InvalidRequest:
    first = exc.errors(include_url=False)[0]
    where, in_union = _param_path(first["loc"], accepts)
    field = where.rsplit(".", 1)[-1].split("[", 1)[0]
    key = field if where.endswith(field) else field + "[]"  # "documents[]": an entry's shape
    if in_union and key in accepts:
        message = f"{where} must be {accepts[key]}"
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


def _token_ids(value: Any) -> list[int]:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [i for row in value for i in row if isinstance(i, int)]
    if isinstance(value, list):
        return [i for i in value if isinstance(i, int)]
    return []


def _check_token_ids(api: Api, body: dict[str, Any], vocab_size: int | None) -> None:
    for field in api.token_fields:
        for token in _token_ids(body.get(field)):
            if token < 0 or (vocab_size is not None and token >= vocab_size):
                limit = f"0 to {vocab_size - 1}" if vocab_size else "non-negative"
                raise InvalidRequest(f"{field}: token id {token} is outside the model's "
                                     f"vocabulary ({limit})", param=field)


def validate_body(route: str, body: Any, *, served_model: str, vocab_size: int | None = None,
                  max_n: int | None = None) -> dict[str, Any]:
    """Check the body for ``route`` by its API module and fill a missing ``model``; return the
    body to send."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body for {route} must be a JSON object, "
                             f"got {type(body).__name__}")
    api = api_for(route)
    assert api is not None, f"no API module for the inference route {route}"
    if api.body_model is not None:
        try:
            api.body_model.model_validate(body)
        except ValidationError as exc:
            raise _shape_error(exc, dict(api.accepts)) from None
    body = api.apply_fields(body)
    if not api.streams and body.get("stream") is True:
        raise InvalidRequest(f"stream is not supported on {route}: it answers with one JSON "
                             "object; leave stream out or set it to false", param="stream")
    api.check(body)
    _check_token_ids(api, body, vocab_size)
    _check_n(route, body, max_n)
    body = api.finish(body)
    if route != GENERATE_ROUTE and not body.get("model"):
        body = {**body, "model": served_model}
    return body


def build_request(route: Route, body: Any, *, served_model: str, vocab_size: int | None = None,
                  max_n: int | None = None) -> EngineRequest:
    """The one place an ``EngineRequest`` is made: method, validation, stream flag."""
    if route.read:
        wanted = route.model_id
        return EngineRequest(MODELS_ROUTE if wanted is not None else route.path, "GET", None,
                             stream=False, model_id=wanted)
    body = validate_body(route.path, body, served_model=served_model, vocab_size=vocab_size,
                         max_n=max_n)
    return EngineRequest(route.path, "POST", body, stream=body.get("stream") is True)
