"""Turn a RunPod job's ``input`` into an ``EngineRequest``: the accepted shapes.

Contract (checked in this order):
1. ``{"openai_route": "/v1/...", "openai_input": {...}}``: what RunPod's ``/openai/v1``
   endpoint sends. A read route (``/v1/models`` ...) is a GET, whatever ``openai_input`` holds;
   an inference route needs ``openai_input`` to be a non-empty object. Output: raw SSE text.
2. An OpenAI chat body given directly: ``{"messages": [...], "model"?, "stream"?, ...}``.
3. ``{"prompt": ..., ...}``: an OpenAI completions body.
4. SGLang's native ``/generate`` body: ``text`` or ``input_ids``, ``sampling_params``,
   ``image_data``.
For shapes 2 and 3 a legacy ``sampling_params`` object is merged into the body; fields given
at the top level win over it. Shapes 2 to 4 output parsed objects. Anything else is refused
with a message that lists the accepted shapes.
"""

from __future__ import annotations

from typing import Any

from sglang_worker.errors import InvalidRequest
from sglang_worker.pipeline.request import EngineRequest, build_request
from sglang_worker.routes import (
    CHAT_ROUTE,
    COMPLETIONS_ROUTE,
    GENERATE_ROUTE,
    canonical_route,
    check_route,
    is_read_route,
)

SHAPES_HELP = (
    "expected one of: {'openai_route', 'openai_input'}, an OpenAI chat body with 'messages', "
    "a completions body with 'prompt', or an SGLang /generate body with 'text' or 'input_ids'"
)


def _merge_sampling_params(payload: dict[str, Any]) -> dict[str, Any]:
    params = payload.get("sampling_params")
    if params is None:
        return payload
    if not isinstance(params, dict):
        raise InvalidRequest("sampling_params must be an object", param="sampling_params")
    body = {k: v for k, v in payload.items() if k != "sampling_params"}
    return {**params, **body}


def route_of(job_input: Any) -> str | None:
    """The canonical ``openai_route`` of a job, or None (never raises): which error shape a
    failed job answers in, even when its input could not be parsed."""
    try:
        return canonical_route(job_input["openai_route"])
    except (InvalidRequest, TypeError, KeyError):
        return None


def parse_job_input(job_input: Any, *, served_model: str, vocab_size: int | None = None,
                    max_n: int | None = None) -> EngineRequest:
    """Recognise the job's shape and build the request it asks for (pure: no I/O)."""
    if not isinstance(job_input, dict):
        raise InvalidRequest(f"job input must be a JSON object; {SHAPES_HELP}", param="input")

    if "openai_route" in job_input:
        route = canonical_route(job_input["openai_route"])
        check_route(route)  # a refused route is refused as such, whatever its body
        body = job_input.get("openai_input")
        if not body and not is_read_route(route):
            raise InvalidRequest(f"openai_input is required for route {route}",
                                 param="openai_input")
        return build_request(route, body, openai_route=True, served_model=served_model,
                             vocab_size=vocab_size, max_n=max_n)

    if "messages" in job_input:
        route, body = CHAT_ROUTE, _merge_sampling_params(job_input)
    elif "prompt" in job_input:
        route, body = COMPLETIONS_ROUTE, _merge_sampling_params(job_input)
    elif "text" in job_input or "input_ids" in job_input:
        route, body = GENERATE_ROUTE, job_input
    else:
        keys = ", ".join(sorted(map(str, job_input))) or "none"
        raise InvalidRequest(f"unrecognised job input (keys: {keys}); {SHAPES_HELP}",
                             param="input")
    return build_request(route, body, openai_route=False, served_model=served_model,
                         vocab_size=vocab_size, max_n=max_n)
