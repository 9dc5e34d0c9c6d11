"""``/v1/score``'s body rules (``apis.score``): token ids checked, empty items refused (they crash
SGLang's scheduler), spliced embeddings refused; and its errors in SGLang's own shape, on the
job face and in the local endpoint's relay."""

from __future__ import annotations

import json

import pytest

from runpod_local.openai_relay import error_from_job_error
from sglang_worker.errors import EngineRequestError, InvalidRequest, sglang_error_body
from sglang_worker.pipeline.request import validate_body
from sglang_worker.routes import SCORE_ROUTE, parse_route


def check(body: dict) -> dict:
    return validate_body(SCORE_ROUTE, body, served_model="m", vocab_size=100)


def test_a_text_and_a_token_score_body_pass_with_the_model_filled_in():
    assert check({"query": "a", "items": ["b", "c"], "label_token_ids": [1]})["model"] == "m"
    assert check({"query": [1, 2], "items": [[3], [4]], "label_token_ids": [5]})["query"] == [1, 2]


@pytest.mark.parametrize(("body", "param"), [
    ({"query": "", "items": [""]}, "items[0]"),
    ({"query": "q", "items": ""}, "items"),
    ({"query": [], "items": [[1], []]}, "items[1]"),
    ({"query": [1, 100], "items": [[1]]}, "query"),
    ({"query": [1], "items": [[1], [-1]]}, "items"),
    ({"query": "q", "items": ["a"], "item_embed_overrides": [[[0.1]]]}, "item_embed_overrides"),
    ({"query": "q", "items": ["a"], "return_pooled_hidden_states": True},
     "return_pooled_hidden_states"),
    ({"query": "q", "items": 3}, "items"),
])
def test_bodies_that_would_crash_or_bypass_the_checks_are_refused(body, param):
    with pytest.raises(InvalidRequest) as raised:
        check(body)
    assert raised.value.param == param


def test_score_errors_take_sglangs_shape_and_other_routes_keep_theirs():
    assert parse_route("/v1/score").error_shape == "sglang"
    assert parse_route("/v1/chat/completions").error_shape == "openai"
    body = InvalidRequest("items[0] is empty", param="items[0]").to_body("sglang")
    assert body == {"object": "error", "message": "items[0] is empty", "type": "BadRequestError",
                    "param": "items[0]", "code": 400}
    engine = EngineRequestError("Token ID 9 is out of vocabulary", status=400)
    assert engine.to_body("sglang") == sglang_error_body(400, engine.message)
    assert sglang_error_body(503, "x")["type"] == "ServiceUnavailableError"


def test_the_relay_answers_sglangs_body_at_its_status_as_it_is():
    body = sglang_error_body(400, "Token ID 999999 is out of vocabulary", param=None)
    assert error_from_job_error(json.dumps(body)) == (400, body)
