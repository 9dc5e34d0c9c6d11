"""What to tell a user whom Hugging Face refused, worded once: the hub preflight
(``preflight``, before the engine starts) and the start-up failure reader (``start_failure``,
from the engine's own last output) say the same thing for the same cause.

Each function returns one cause: what is wrong and which variable to change. None of them
takes a token's value: ``token`` is only whether one is set.
"""

from __future__ import annotations


def gated(model: str, *, token: bool) -> str:
    who = "HF_TOKEN may not read it" if token else "no HF_TOKEN is set"
    return (f"MODEL_NAME '{model}' is a gated model on Hugging Face and {who}: accept its "
            "licence on the model's page, then set HF_TOKEN to a read token of that account")


def missing_revision(model: str, revision: str | None) -> str:
    return (f"revision '{revision or 'main'}' of MODEL_NAME '{model}' was not found on Hugging "
            "Face: check MODEL_REVISION (or REVISION, or --revision in SGLANG_ARGS): a branch, "
            "tag or commit of that repository")


def not_found(model: str, *, token: bool) -> str:
    if token:
        return (f"MODEL_NAME '{model}' was not found on Hugging Face, or HF_TOKEN may not read "
                "it: check the name, and that the token has access if the model is private")
    return (f"MODEL_NAME '{model}' was not found on Hugging Face: check the name; if it is a "
            "private model, set HF_TOKEN to a token that may read it")


def token_refused(model: str) -> str:
    return (f"Hugging Face refused HF_TOKEN (401) for MODEL_NAME '{model}': the token is "
            "invalid or expired; set HF_TOKEN to a valid read token")


def token_forbidden(model: str) -> str:
    return (f"HF_TOKEN may not read MODEL_NAME '{model}' (403): give the token read access to "
            "that repository, or use a token with read access to public gated repositories")
