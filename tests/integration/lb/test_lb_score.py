"""Issue 22 in load-balancing mode: SGLang's own ``/v1/score`` tests pass on the bare engine and
through the worker's HTTP face alike, with the same scores and the same error body; the worker's
own refusals on this route take SGLang's error shape too."""

from __future__ import annotations

import pytest

from tests.support.score_cases import ITEMS, QUERY, ScoreCases

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cases(tiny_vl_model):
    return ScoreCases(tiny_vl_model)


async def test_sglangs_score_tests_pass_on_the_engine_and_through_the_worker(lb_worker, cases):
    engine, worker = f"{lb_worker.engine_url}/v1/score", f"{lb_worker.url}/v1/score"
    assert await cases.text_input(worker) == await cases.text_input(engine)
    assert await cases.token_input(worker) == await cases.token_input(engine)
    assert await cases.error_handling(worker) == await cases.error_handling(engine)


async def test_the_workers_own_refusals_take_sglangs_shape(lb_worker, cases):
    url = f"{lb_worker.url}/v1/score"
    for body, param in (
            ({"query": "", "items": [""], "label_token_ids": [1]}, "items[0]"),
            ({"query": [10**6], "items": [[1]], "label_token_ids": [1]}, "query"),
            ({"query": QUERY, "items": ITEMS, "label_token_ids": [1],
              "query_embed_overrides": [[0.5]], "embed_override_token_id": 1},
             "query_embed_overrides")):
        status, response = await cases.post(url, body)
        assert status == 400, response
        assert response["object"] == "error" and response["type"] == "BadRequestError"
        assert response["param"] == param and response["code"] == 400, response
    status, response = await cases.post(url, {"query": QUERY, "items": ITEMS,
                                              "label_token_ids": [1]})
    assert status == 200 and len(response["scores"]) == len(ITEMS)  # the engine lived


async def test_rerank_and_classify_on_a_chat_model_answer_as_the_engine_or_say_why_not(
        lb_worker, cases):
    """The session's Qwen2-VL is neither a reranker nor a classifier: SGLang's own 400s pass
    through as bare SGLang sends them, and content parts are the worker's 400 (SGLang's
    cross-encoder path would drop their images)."""
    for route, body in (("/v1/rerank", {"query": QUERY, "documents": ITEMS}),
                        ("/v1/classify", {"input": QUERY})):
        worker = await cases.post(f"{lb_worker.url}{route}", body)
        assert worker == await cases.post(f"{lb_worker.engine_url}{route}", body)
        assert worker[0] == 400 and worker[1]["object"] == "error", worker
    status, response = await cases.post(f"{lb_worker.url}/v1/rerank", {
        "query": QUERY, "documents": [[{"type": "text", "text": "Paris"}]]})
    assert status == 400 and "reads text only" in response["message"], response
    assert response["param"] == "documents[0]" and response["type"] == "BadRequestError"
