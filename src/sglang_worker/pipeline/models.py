"""``/v1/models/{id}`` answered by the worker from SGLang's model list: pure.

Why: the id is the caller's string, and a path built from it is one decoding away from
another route (issue 10). SGLang's list already names everything the engine serves (the served
model, and LoRA adapters where they are enabled), so the worker matches the id against it
exactly and never sends the id anywhere.

Contract: ``pick_model(listing, model_id)`` returns the entry of ``listing["data"]`` whose
``id`` equals ``model_id`` (the model card SGLang's own retrieve returns), or raises
``ModelNotFound`` (404, ``param: "model"``) with SGLang's wording and the served ids.
"""

from __future__ import annotations

from typing import Any

from sglang_worker.errors import ModelNotFound


def pick_model(listing: Any, model_id: str) -> dict[str, Any]:
    cards = listing.get("data") if isinstance(listing, dict) else None
    cards = [card for card in cards or [] if isinstance(card, dict)]
    for card in cards:
        if card.get("id") == model_id:
            return card
    served = ", ".join(repr(card.get("id")) for card in cards) or "none"
    shown = model_id if len(model_id) <= 200 else model_id[:200] + "..."
    raise ModelNotFound(f"The model {shown!r} does not exist; this worker serves {served}",
                        param="model")
