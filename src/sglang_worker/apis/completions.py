"""OpenAI completions (``/v1/completions``): a prompt in, text out; no media.

Contract: ``prompt`` is a non-empty string, a list of strings, a list of token ids or a list of
lists of token ids (token ids are checked against the vocabulary); ``model`` and ``stream``
as in chat. The field rules are below; nothing here carries media.
"""

from __future__ import annotations

from pydantic import field_validator

from sglang_worker.apis.base import Api, plain
from sglang_worker.apis.rules import (
    ENGINE_ONLY,
    OUTPUT_EXTRAS,
    ROUTING,
    SAMPLING,
    SCHEDULING,
)
from sglang_worker.apis.shapes import Open, TokenIds, not_empty
from sglang_worker.routes import COMPLETIONS_ROUTE


class CompletionBody(Open):
    prompt: str | list[str] | TokenIds
    model: str | None = None
    stream: bool = False

    _prompt_not_empty = field_validator("prompt")(not_empty)


FIELDS = {
    **SAMPLING, **OUTPUT_EXTRAS, **SCHEDULING, **ROUTING, **ENGINE_ONLY,
    "prompt": plain("text or token ids, checked against the vocabulary"),
    "best_of": plain("candidates per prompt, bounded by MAX_N"),
    "echo": plain("output option"),
    "suffix": plain("output option"),
}

API = Api(
    name="completions", routes=(COMPLETIONS_ROUTE,), body_model=CompletionBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:CompletionRequest",),
    token_fields=("prompt",),
    accepts={"prompt": "a non-empty string, a list of strings, a list of token ids, or a list "
                       "of lists of token ids"},
)
