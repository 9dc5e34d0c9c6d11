"""Which SGLang routes a caller may reach, and the one canonical spelling of each.

A route string comes from the caller (``openai_route`` of a job, the path of an HTTP request)
and is hostile until checked. It is canonicalised once, then checked against the allowlist, and
what was checked is exactly what the engine client sends:

- ``canonical_route(raw)``: percent-escapes are decoded once, then the route is refused (a 400
  naming ``openai_route``) if it holds a control character, a backslash, an encoded ``/`` or
  ``\\``, a ``%`` left after decoding (double encoding), a non-ASCII or blank character, an empty
  segment (``//``), or a segment made only of dots (``.``, ``..``, ``...``). A query string is
  dropped, one trailing ``/`` is allowed and dropped, a leading ``/`` is optional, and RunPod's
  ``/openai/v1/...`` prefix becomes ``/v1/...``. The result is a tuple of plain segments joined
  with ``/``; no HTTP client or server can resolve it to another path.
- ``/v1/models/{id}`` is the one route with a parameter, and the id is opaque: everything after
  ``/v1/models/`` is decoded once and is the id, so ``%2F`` inside it is a slash of the id
  (the OpenAI SDK sends ``models.retrieve("Qwen/Qwen2.5-VL-7B-Instruct")`` as
  ``/v1/models/Qwen%2FQwen2.5-VL-7B-Instruct``), unencoded slashes are slashes of the id too
  (SGLang's own tests send them so), and a local model served under its absolute path
  (``//models/x`` after the prefix) keeps its leading ``/``. The character, escape and dot
  segment refusals above still apply to the id, raw and decoded. ``model_id(route)`` gives the
  id back. The id never reaches SGLang: the worker answers from SGLang's ``/v1/models`` list,
  matching the id exactly (``pipeline.models``).
- ``check_route(route)``: the allowlist, matched on the canonical form. Inference routes
  (``INFERENCE_ROUTES``: chat, completions, ``/generate``, OpenAI's Responses API, Anthropic's
  Messages API and its token count, embeddings, tokenize, SGLang's ``/v1/score``,
  ``/v1/rerank`` and ``/v1/classify``) and read-only routes
  (``READ_ROUTES``, and ``/v1/models/{id}`` where the id may contain ``/``, e.g.
  ``Qwen/Qwen2.5-VL-7B-Instruct``). Anything else is a 404, SGLang's admin routes
  (``/flush_cache``, ``/release_memory_occupation``, ``/update_weights*`` ...) among them.
  ``/server_info`` and ``/get_server_info`` are left out on purpose: they echo the launch
  command, which can hold secrets. ``GET``/``DELETE /v1/responses/{id}`` and
  ``/v1/responses/{id}/cancel`` are left out too: stored responses live in one worker's memory
  and cannot be found again behind RunPod's load balancing, so the 404 says so.
- ``parse_route(raw)``: both, once, at a face's door: a ``Route``, the one value the rest of the
  way carries (its canonical ``path``, whether it is a ``read`` route, its ``model_id``, and
  the shape its errors take: ``error_shape``). Nothing after the door parses the route again.
- ``engine_path(route)``: the path to put on the wire for a canonical route: every segment
  percent-encoded except RFC 3986's unreserved characters, so that the engine decodes exactly
  the checked segments and nothing in between re-reads them as dot segments or separators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from sglang_worker.errors import ErrorShape, InvalidRequest, RouteNotAllowed

CHAT_ROUTE = "/v1/chat/completions"
COMPLETIONS_ROUTE = "/v1/completions"
GENERATE_ROUTE = "/generate"
MODELS_ROUTE = "/v1/models"
RESPONSES_ROUTE = "/v1/responses"
MESSAGES_ROUTE = "/v1/messages"
COUNT_TOKENS_ROUTE = "/v1/messages/count_tokens"
EMBEDDINGS_ROUTE = "/v1/embeddings"
TOKENIZE_ROUTE = "/v1/tokenize"
DETOKENIZE_ROUTE = "/v1/detokenize"
SCORE_ROUTE = "/v1/score"
RERANK_ROUTE = "/v1/rerank"
CLASSIFY_ROUTE = "/v1/classify"
# Anthropic's Messages API: its errors take Anthropic's shape (errors.anthropic_error_body).
ANTHROPIC_ROUTES = frozenset({MESSAGES_ROUTE, COUNT_TOKENS_ROUTE})
# SGLang's own retrieval routes: no SDK reads them, so their errors keep the top-level shape
# bare SGLang answers in (errors.sglang_error_body), which their clients parse.
SGLANG_ERROR_ROUTES = frozenset({SCORE_ROUTE, RERANK_ROUTE, CLASSIFY_ROUTE})

INFERENCE_ROUTES = frozenset(
    {CHAT_ROUTE, COMPLETIONS_ROUTE, GENERATE_ROUTE, RESPONSES_ROUTE, MESSAGES_ROUTE,
     COUNT_TOKENS_ROUTE, EMBEDDINGS_ROUTE, TOKENIZE_ROUTE, DETOKENIZE_ROUTE, SCORE_ROUTE,
     RERANK_ROUTE, CLASSIFY_ROUTE}
)
READ_ROUTES = frozenset(
    {MODELS_ROUTE, "/health", "/health_generate", "/model_info", "/get_model_info"}
)

_PARAM = "openai_route"
# Percent-escapes that would smuggle a separator past the segment checks once decoded.
_ENCODED_SEPARATORS = ("%2f", "%5c")
_REFUSED_CHARACTERS = {"\\": "a backslash", "%": "a '%' left after decoding (double encoding)",
                       "#": "a '#'"}


def _refuse(raw: str, why: str) -> InvalidRequest:
    shown = raw if len(raw) <= 200 else raw[:200] + "..."
    return InvalidRequest(f"openai_route {shown!r} is not a valid route: it contains {why}; "
                          f"give a plain path such as '{CHAT_ROUTE}'", param=_PARAM)


def _check_characters(raw: str, text: str) -> None:
    for char in text:
        if char in _REFUSED_CHARACTERS:
            raise _refuse(raw, _REFUSED_CHARACTERS[char])
        if char < " " or char == "\x7f":
            raise _refuse(raw, "a control character")
        if char == " ":
            raise _refuse(raw, "a space")
        if char > "\x7f":
            raise _refuse(raw, "a non-ASCII character")


def _decode(raw: str, text: str) -> str:
    """``text`` (part of ``raw``) decoded once, after and before the character checks."""
    _check_characters(raw, text.replace("%", ""))
    try:
        decoded = unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise _refuse(raw, "a percent-escape that is not UTF-8") from None
    _check_characters(raw, decoded)
    return decoded


def _refuse_dot_segments(raw: str, *texts: str) -> None:
    if any(segment and not segment.strip(".") for text in texts for segment in text.split("/")):
        raise _refuse(raw, "a '.' or '..' segment")


def _raw_model_id(path: str) -> str | None:
    """The raw ``<id>`` when ``path`` is ``[/][openai/]v1/models/<id>``, else None."""
    parts = path.removeprefix("/").split("/", 3)
    lead = 1 if parts[0] == "openai" else 0
    if len(parts) > lead + 2 and parts[lead:lead + 2] == ["v1", "models"]:
        return path.removeprefix("/").split("/", lead + 2)[-1].removesuffix("/") or None
    return None


def _canonical_model_route(raw: str, raw_id: str) -> str:
    if "%5c" in raw_id.lower():
        raise _refuse(raw, "an encoded '\\'")
    model = _decode(raw, raw_id)
    _refuse_dot_segments(raw, raw_id, model)
    return f"{MODELS_ROUTE}/{model}"


def canonical_route(raw: Any) -> str:
    """The canonical form of a caller's route, or an ``InvalidRequest`` naming ``openai_route``."""
    if not isinstance(raw, str) or not raw.strip(" "):
        raise InvalidRequest(f"openai_route must be a non-empty string such as '{CHAT_ROUTE}'",
                             param=_PARAM)
    path = raw.strip(" ").split("?", 1)[0]
    raw_id = _raw_model_id(path)
    if raw_id is not None:
        return _canonical_model_route(raw, raw_id)
    if any(escape in path.lower() for escape in _ENCODED_SEPARATORS):
        raise _refuse(raw, "an encoded '/' or '\\'")
    decoded = _decode(raw, path)
    segments = decoded.removeprefix("/").removesuffix("/").split("/")
    if any(not segment for segment in segments):
        raise _refuse(raw, "an empty segment ('//')")
    _refuse_dot_segments(raw, decoded)
    if segments[:2] == ["openai", "v1"]:
        segments = segments[1:]
    return "/" + "/".join(segments)


def model_id(route: str) -> str | None:
    """The id of a canonical ``/v1/models/{id}`` route, else None."""
    prefix = MODELS_ROUTE + "/"
    return route[len(prefix):] if route.startswith(prefix) else None


def is_read_route(route: str) -> bool:
    return route in READ_ROUTES or route.startswith(MODELS_ROUTE + "/")


def check_route(route: str) -> None:
    if route in INFERENCE_ROUTES or is_read_route(route):
        return
    if route.startswith(RESPONSES_ROUTE + "/"):
        raise RouteNotAllowed(
            f"route '{route}' is not served: this worker stores no responses (store is off), "
            "because a stored response lives in one worker's memory and RunPod may route the "
            "next request to another worker; keep the conversation on the client and send it "
            "as input", param=_PARAM)
    allowed = ", ".join(sorted(INFERENCE_ROUTES | READ_ROUTES))
    raise RouteNotAllowed(f"route '{route}' is not served by this worker; allowed: {allowed}",
                          param=_PARAM)


def engine_path(route: str) -> str:
    """The wire path of a canonical route: each segment percent-encoded but for unreserved."""
    return "/" + "/".join(quote(segment, safe="") for segment in route[1:].split("/"))


@dataclass(frozen=True, slots=True)
class Route:
    """A caller's route as decided at the door: canonical and allowed (``parse_route``)."""

    path: str

    @property
    def read(self) -> bool:
        return is_read_route(self.path)

    @property
    def model_id(self) -> str | None:
        return model_id(self.path)

    @property
    def error_shape(self) -> ErrorShape:
        """The shape its errors take: Anthropic's (``errors.anthropic_error_body``), SGLang's
        top-level one (``errors.sglang_error_body``) or OpenAI's."""
        if self.path in ANTHROPIC_ROUTES:
            return "anthropic"
        return "sglang" if self.path in SGLANG_ERROR_ROUTES else "openai"


def parse_route(raw: Any) -> Route:
    """The caller's route, canonical and allowed, or the 400 or 404 that says why not."""
    path = canonical_route(raw)
    check_route(path)
    return Route(path)
