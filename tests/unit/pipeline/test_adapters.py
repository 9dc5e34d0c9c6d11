"""``pipeline.adapters``: which adapter a request picks, in SGLang's spelling; names that are not
served, paths in ``lora_path`` and adapters on routes where SGLang ignores them refused; and
the model list without adapter paths."""

from __future__ import annotations

import pytest

from sglang_worker.errors import InvalidRequest
from sglang_worker.pipeline.adapters import pick_adapter, public_models

SERVED = "org/base"
ADAPTERS = ("style", "tone")


@pytest.mark.parametrize(("route", "body", "model"), [
    ("/v1/chat/completions", {"model": "style"}, "org/base:style"),
    ("/v1/chat/completions", {"model": "org/base:tone"}, "org/base:tone"),
    ("/v1/completions", {"model": "org/base"}, "org/base"),
    ("/v1/messages", {"model": "tone"}, "org/base:tone"),
    ("/v1/embeddings", {"model": "org/base"}, "org/base"),
])
def test_the_model_field_picks_an_adapter_in_sglangs_spelling(route, body, model):
    assert pick_adapter(route, body, SERVED, ADAPTERS)["model"] == model


def test_lora_path_may_name_served_adapters_only():
    body = {"model": SERVED, "lora_path": "tone"}
    assert pick_adapter("/v1/chat/completions", body, SERVED, ADAPTERS) == body
    batch = {"text": ["a", "b"], "lora_path": ["style", None]}
    assert pick_adapter("/generate", batch, SERVED, ADAPTERS) == batch
    assert pick_adapter("/v1/chat/completions", {"model": "style", "lora_path": "style"},
                        SERVED, ADAPTERS)["model"] == "org/base:style"


@pytest.mark.parametrize(("route", "body", "param", "words"), [
    ("/v1/chat/completions", {"model": "styel"}, "model", "'org/base', 'style', 'tone'"),
    ("/v1/chat/completions", {"model": "org/base:nope"}, "model", "is not served here"),
    ("/v1/chat/completions", {"model": SERVED, "lora_path": "/etc"}, "lora_path", "never a path"),
    ("/generate", {"text": ["a"], "lora_path": ["style", "x/y"]}, "lora_path", "never a path"),
    ("/v1/chat/completions", {"model": "style", "lora_path": "tone"}, "lora_path",
     "give one of them"),
    ("/v1/responses", {"model": "style"}, "model", "would answer with the base model"),
    ("/v1/embeddings", {"model": SERVED, "lora_path": "tone"}, "lora_path", "are served on"),
])
def test_what_sglang_would_serve_silently_from_the_base_is_refused(route, body, param, words):
    with pytest.raises(InvalidRequest, match=words) as raised:
        pick_adapter(route, body, SERVED, ADAPTERS)
    assert raised.value.param == param


def test_without_adapters_model_is_sglangs_business_and_lora_path_is_refused():
    body = {"model": "anything"}
    assert pick_adapter("/v1/chat/completions", body, SERVED, ()) is body
    with pytest.raises(InvalidRequest, match="serves no LoRA adapters"):
        pick_adapter("/v1/chat/completions", {"lora_path": "a"}, SERVED, ())


def test_the_model_list_names_adapters_by_name_only():
    listing = {"object": "list", "data": [
        {"id": SERVED, "root": SERVED, "parent": None},
        {"id": "style", "root": "/runpod-volume/adapters/style", "parent": SERVED}]}
    public = public_models(listing, ADAPTERS)
    assert public["data"][0] == listing["data"][0]
    assert public["data"][1] == {"id": "style", "root": "style", "parent": SERVED}
    assert "/runpod-volume" in str(listing) and "/runpod-volume" not in str(public)
    assert public_models(listing, ()) is listing
