"""Which model answers a request when LoRA adapters are served, and the model list without
their paths: pure.

Why: SGLang 0.5.23 picks an adapter only from ``model: "<served>:<adapter>"`` or the body's
``lora_path``; a bare ``model: "<adapter>"``, a misspelt name, or an adapter on
``/v1/responses`` all get the base model without a word, and its ``/v1/models`` lists each
adapter with ``root`` set to its local path or hub id.

Contract:
- ``pick_adapter(route, body, served_model, adapters)`` returns the body to send.
  - No adapters served: ``lora_path`` (anything but null) is a 400 that says none is served;
    the ``model`` field is SGLang's business, as before (any name gets the served model).
  - With adapters: ``model`` must be the served name, an adapter's name or
    ``<served>:<adapter>``; an adapter becomes ``<served>:<adapter>``, SGLang's spelling.
    Anything else is a 400 (``param: "model"``) that lists the served names. ``lora_path`` (a
    name, or on ``/generate`` one name or null per prompt) may only hold served adapter names,
    never a path, and must agree with an adapter named in ``model``.
  - Adapters answer on the routes where SGLang applies them (``ADAPTER_ROUTES``: chat,
    completions, Anthropic's Messages API and its token count, ``/generate``); an adapter asked
    for on any other route (``/v1/responses``, embeddings, the retrieval routes, tokenize) is a
    400 that says where adapters are served, instead of the base model's answer.
- ``public_models(listing, adapters)``: SGLang's ``/v1/models`` answer with each adapter's
  ``root`` set to its name, so no local path or hub id reaches a caller; every other card, and
  every other field, as SGLang sent it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sglang_worker.errors import InvalidRequest
from sglang_worker.routes import (
    CHAT_ROUTE,
    COMPLETIONS_ROUTE,
    COUNT_TOKENS_ROUTE,
    GENERATE_ROUTE,
    MESSAGES_ROUTE,
)

ADAPTER_ROUTES = frozenset({CHAT_ROUTE, COMPLETIONS_ROUTE, MESSAGES_ROUTE, COUNT_TOKENS_ROUTE,
                            GENERATE_ROUTE})


def _served(served_model: str, adapters: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in (served_model, *adapters))


def _adapter_in_model(model: Any, served_model: str, adapters: Sequence[str]) -> str | None:
    """The adapter ``model`` names, None for the base; a 400 for a name not served here."""
    if model is None or model == served_model:
        return None
    if isinstance(model, str):
        name = model.removeprefix(served_model + ":") if model.startswith(served_model + ":") \
            else model
        if name in adapters:
            return name
    shown = model if not isinstance(model, str) or len(model) <= 200 else model[:200] + "..."
    raise InvalidRequest(f"model {shown!r} is not served here; use one of "
                         f"{_served(served_model, adapters)}", param="model")


def _adapters_in_lora_path(route: str, value: Any, adapters: Sequence[str]) -> list[str]:
    entries = value if route == GENERATE_ROUTE and isinstance(value, list) else [value]
    names = []
    for entry in entries:
        if entry is None and isinstance(value, list):
            continue
        if not isinstance(entry, str) or entry not in adapters:
            served = ", ".join(repr(name) for name in adapters)
            raise InvalidRequest(f"lora_path must name a served LoRA adapter ({served}), never "
                                 "a path; or pick one with model", param="lora_path")
        names.append(entry)
    return names


def pick_adapter(route: str, body: dict[str, Any], served_model: str,
                 adapters: Sequence[str]) -> dict[str, Any]:
    """The body with the adapter it asks for in SGLang's spelling (see the module contract)."""
    lora_path = body.get("lora_path")
    if not adapters:
        if lora_path is not None:
            raise InvalidRequest("lora_path: this worker serves no LoRA adapters "
                                 "(LORA_ADAPTERS is not set)", param="lora_path")
        return body
    chosen = _adapter_in_model(body.get("model"), served_model, adapters)
    named = _adapters_in_lora_path(route, lora_path, adapters) if lora_path is not None else []
    if chosen is not None and any(name != chosen for name in named):
        raise InvalidRequest(f"model picks adapter {chosen!r} but lora_path names "
                             f"{named[0]!r}: give one of them", param="lora_path")
    if (chosen is not None or named) and route not in ADAPTER_ROUTES:
        raise InvalidRequest(
            f"LoRA adapters are served on chat completions, completions, the Messages API and "
            f"/generate; SGLang's {route} would answer with the base model {served_model!r}",
            param="model" if chosen is not None else "lora_path")
    if chosen is None:
        return body
    return {**body, "model": f"{served_model}:{chosen}"}


def public_models(listing: Any, adapters: Sequence[str]) -> Any:
    """SGLang's model list with no adapter's path or hub id in it."""
    cards = listing.get("data") if isinstance(listing, dict) else None
    if not adapters or not isinstance(cards, list):
        return listing
    return {**listing, "data": [
        {**card, "root": card["id"]} if isinstance(card, dict) and card.get("id") in adapters
        else card for card in cards]}
