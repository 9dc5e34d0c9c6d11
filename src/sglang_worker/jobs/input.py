"""Turn a RunPod job's ``input`` into an ``EngineRequest``: the accepted shapes.

Contract (checked in this order; ``job_shape`` recognises one and decides its route once):
1. ``{"openai_route": "/v1/...", "openai_input": {...}}``: what RunPod's ``/openai/v1``
   endpoint sends. The route is parsed here (``routes.parse_route``). A read route
   (``/v1/models`` ...) is a GET, whatever ``openai_input`` holds; an inference route needs
   ``openai_input`` to be a non-empty object. Output: raw SSE text (``JobShape.openai``).
2. An OpenAI chat body given directly: ``{"messages": [...], "model"?, "stream"?, ...}``.
3. ``{"prompt": ..., ...}``: an OpenAI completions body.
4. SGLang's native ``/generate`` body: ``text`` or ``input_ids``, ``sampling_params``,
   ``image_data``.
For shapes 2 and 3 a legacy ``sampling_params`` object is merged into the body; fields given
at the top level win over it. Shapes 2 to 4 output parsed objects. Anything else is refused
with a message that lists the accepted shapes. ``parse_job_input`` is both steps at once, with
``pipeline.build_request`` (pure: no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sglang_worker.errors import InvalidRequest
from sglang_worker.pipeline.request import EngineRequest, build_request
from sglang_worker.routes import (
    CHAT_ROUTE,
    COMPLETIONS_ROUTE,
    GENERATE_ROUTE,
    Route,
    parse_route,
)

SHAPES_HELP = (
    "expected one of: {'openai_route', 'openai_input'}, an OpenAI chat body with 'messages', "
    "a completions body with 'prompt', or an SGLang /generate body with 'text' or 'input_ids'"
)


@dataclass(frozen=True, slots=True)
class JobShape:
    route: Route
    raw_body: Any
    openai: bool  # the OpenAI route: answered as raw SSE text; else as parsed objects

    def body(self) -> Any:
        """The body to validate: an inference route on the OpenAI route needs one."""
        if self.openai and not self.raw_body and not self.route.read:
            raise InvalidRequest(f"openai_input is required for route {self.route.path}",
                                 param="openai_input")
        return self.raw_body


def _merge_sampling_params(payload: dict[str, Any]) -> dict[str, Any]:
    params = payload.get("sampling_params")
    if params is None:
        return payload
    if not isinstance(params, dict):
        raise InvalidRequest("sampling_params must be an object", param="sampling_params")
    body = {k: v for k, v in payload.items() if k != "sampling_params"}
    return {**params, **body}


def job_shape(job_input: Any) -> JobShape:
    """Which shape the job has, its route (decided here, once) and its body."""
    if not isinstance(job_input, dict):
        raise InvalidRequest(f"job input must be a JSON object; {SHAPES_HELP}", param="input")
    if "openai_route" in job_input:
        # A refused route is refused as such, whatever the body.
        return JobShape(parse_route(job_input["openai_route"]), job_input.get("openai_input"),
                        openai=True)
    if "messages" in job_input:
        return JobShape(Route(CHAT_ROUTE), _merge_sampling_params(job_input), openai=False)
    if "prompt" in job_input:
        return JobShape(Route(COMPLETIONS_ROUTE), _merge_sampling_params(job_input),
                        openai=False)
    if "text" in job_input or "input_ids" in job_input:
        return JobShape(Route(GENERATE_ROUTE), job_input, openai=False)
    keys = ", ".join(sorted(map(str, job_input))) or "none"
    raise InvalidRequest(f"unrecognised job input (keys: {keys}); {SHAPES_HELP}",
                         param="input")


def parse_job_input(job_input: Any, *, served_model: str, vocab_size: int | None = None,
                    max_n: int | None = None) -> EngineRequest:
    """Recognise the job's shape and build the request it asks for (pure: no I/O)."""
    shape = job_shape(job_input)
    return build_request(shape.route, shape.body(), served_model=served_model,
                         vocab_size=vocab_size, max_n=max_n)
