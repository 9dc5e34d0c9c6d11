"""SGLang's scoring API (``/v1/score``): the probability of label tokens after a query and each
item, or a classifier's class scores; no media.

Contract:
- ``query``: text or token ids (optional); ``items``: text, a list of texts or a list of token
  id lists. Token ids in both are checked against the vocabulary, like every prompt. An empty
  item is refused: SGLang 0.5.23's scheduler crashes on the zero-token sequence an empty query
  and an empty item make, engine and all (measured here).
- ``label_token_ids`` pass to SGLang, which checks them itself ("Token ID ... is out of
  vocabulary") and scores with them; nothing else of the body carries tokens.
- ``query_embed_overrides``, ``item_embed_overrides`` and ``embed_override_token_id`` (raw
  embeddings spliced into the input) are refused, as on ``/v1/embeddings``.
- Errors on this route take SGLang's own top-level shape (``routes.Route.error_shape``).
"""

from __future__ import annotations

from typing import Any

from sglang_worker.apis.base import Api, plain, refused
from sglang_worker.apis.rules import ENGINE_ONLY
from sglang_worker.apis.shapes import Open, TokenIds
from sglang_worker.errors import InvalidRequest
from sglang_worker.routes import SCORE_ROUTE

_SPLICED = refused("raw embeddings spliced into the input bypass every input check")


class ScoreBody(Open):
    query: str | list[int] | None = None
    items: str | list[str] | TokenIds | None = None
    model: str | None = None


FIELDS = {
    "query": plain("text or token ids, checked against the vocabulary"),
    "items": plain("texts or token id lists, checked against the vocabulary"),
    "label_token_ids": plain("the tokens to score; SGLang checks them against its vocabulary"),
    "model": plain("the served model"),
    **{name: plain("scoring option") for name in (
        "apply_softmax", "temperature", "return_token_logprobs", "item_first",
        "score_extraction_token")},
    "return_pooled_hidden_states": ENGINE_ONLY["return_hidden_states"],
    "embed_override_token_id": _SPLICED,
    "query_embed_overrides": _SPLICED,
    "item_embed_overrides": _SPLICED,
}


def check(body: dict[str, Any]) -> None:
    items = body.get("items")
    for i, item in enumerate(items if isinstance(items, list) else [items]):
        if item is not None and len(item) == 0:
            where = f"items[{i}]" if isinstance(items, list) else "items"
            raise InvalidRequest(f"{where} is empty: give each item some text or tokens",
                                 param=where)


API = Api(
    name="score", routes=(SCORE_ROUTE,), body_model=ScoreBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:ScoringRequest",),
    check=check, streams=False, token_fields=("query", "items"),
    accepts={"query": "a string or a list of token ids",
             "items": "a string, a list of strings, or a list of lists of token ids"},
)
