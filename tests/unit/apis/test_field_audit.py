"""Issue 18: every field SGLang's request models accept, on every allowed route, has the
worker's rule, and each rule does what the audit table says.

The audit reads SGLang's installed models (``scripts/field_audit.py``), so an SGLang upgrade
that adds a field fails here until an API module classes it.
"""

from __future__ import annotations

import pytest

from scripts import field_audit
from sglang_worker.apis import APIS, api_for
from sglang_worker.errors import InvalidRequest
from sglang_worker.pipeline.request import validate_body

MESSAGES = [{"role": "user", "content": "hi"}]
MINIMAL = {
    "chat": {"messages": MESSAGES},
    "completions": {"prompt": "hi"},
    "generate": {"text": "hi"},
    "responses": {"input": "hi"},
    "messages": {"messages": MESSAGES, "max_tokens": 4},
    "count_tokens": {"messages": MESSAGES},
    "embeddings": {"input": "hi"},
    "tokenize": {"prompt": "hi"},
    "detokenize": {"tokens": [1, 2]},
    "score": {"query": "hi", "items": ["a"], "label_token_ids": [1]},
    "rerank": {"query": "hi", "documents": ["a"]},
    "classify": {"input": "hi"},
}
RULES = [(api, name, rule) for api in APIS for name, rule in sorted(api.fields.items())]


def test_every_field_of_sglangs_request_models_has_a_rule():
    assert field_audit.unclassed() == []


def test_the_audit_table_in_docs_is_current():
    assert field_audit.TABLE.read_text(encoding="utf-8") == field_audit.markdown(), (
        "docs/field-audit.md is stale: run make docs")


def test_every_served_api_has_a_minimal_body_here():
    assert {api.name for api in APIS} == set(MINIMAL)
    for api in APIS:
        validate_body(api.routes[0], MINIMAL[api.name], served_model="m")


@pytest.mark.parametrize(("api", "name", "rule"),
                         [r for r in RULES if r[2].verdict == "refused"],
                         ids=lambda v: getattr(v, "name", None) or str(v)[:20])
def test_every_refused_field_is_a_400_naming_it_and_saying_why(api, name, rule):
    body = {**MINIMAL[api.name], name: "x"}
    with pytest.raises(InvalidRequest) as info:
        validate_body(api.routes[0], body, served_model="m")
    assert info.value.status == 400
    assert info.value.param == name
    assert info.value.message == f"{name} is not supported by this worker: {rule.reason}"


@pytest.mark.parametrize(("api", "name", "rule"),
                         [r for r in RULES if r[2].verdict == "refused"][:12],
                         ids=lambda v: getattr(v, "name", None) or str(v)[:20])
def test_a_refused_field_left_null_or_false_is_accepted(api, name, rule):
    for value in (None, False):
        validate_body(api.routes[0], {**MINIMAL[api.name], name: value}, served_model="m")


@pytest.mark.parametrize(("api", "name", "rule"),
                         [r for r in RULES if r[2].verdict == "dropped"],
                         ids=lambda v: getattr(v, "name", None) or str(v)[:20])
def test_every_dropped_field_never_reaches_sglang(api, name, rule):
    body = validate_body(api.routes[0], {**MINIMAL[api.name], name: 99}, served_model="m")
    assert name not in body
    assert {k: v for k, v in body.items() if k != "model"} == {
        k: v for k, v in MINIMAL[api.name].items() if k != "model"} | (
        {"store": False} if api.name == "responses" else {})


def test_plain_fields_pass_as_sent():
    body = {**MINIMAL["chat"], "temperature": 0.3, "cache_salt": "s", "tools": [{"x": 1}],
            "rid": "my-request-7"}
    assert validate_body("/v1/chat/completions", body, served_model="m") == {**body, "model": "m"}


def test_an_unknown_field_passes_untouched_because_sglang_ignores_it():
    body = {**MINIMAL["completions"], "a_field_from_a_newer_sdk": {"k": 1}}
    assert validate_body("/v1/completions", body, served_model="m")["a_field_from_a_newer_sdk"] \
        == {"k": 1}


def test_api_for_knows_every_inference_route_and_no_read_route():
    from sglang_worker.routes import INFERENCE_ROUTES, READ_ROUTES
    assert {route for route in INFERENCE_ROUTES if api_for(route) is None} == set()
    assert {route for route in READ_ROUTES if api_for(route) is not None} == set()
