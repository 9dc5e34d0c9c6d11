"""Issue 22 through the local endpoint (``make serve``): SGLang's own ``/v1/score`` tests pass
through RunPod's OpenAI route as they do on the bare engine, and a score job answers through
``/runsync``, its refusals failing the job with SGLang's error body."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.support.score_cases import ITEMS, QUERY, ScoreCases

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cases(tiny_vl_model):
    return ScoreCases(tiny_vl_model)


async def test_sglangs_score_tests_pass_through_the_openai_route(local_endpoint, cases):
    engine = f"{local_endpoint.engine_url}/v1/score"
    worker = f"{local_endpoint.openai_base_url}/score"
    assert await cases.text_input(worker) == await cases.text_input(engine)
    assert await cases.token_input(worker) == await cases.token_input(engine)
    assert await cases.error_handling(worker) == await cases.error_handling(engine)


async def test_a_score_job_and_a_refused_one(local_endpoint, cases):
    labels = [cases.ids(item)[0] for item in ITEMS]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{local_endpoint.url}/runsync", json={"input": {
                "openai_route": "/v1/score", "openai_input": {
                    "query": QUERY, "items": ITEMS, "label_token_ids": labels}}}) as response:
            done = await response.json()
        async with http.post(f"{local_endpoint.url}/runsync", json={"input": {
                "openai_route": "/v1/score", "openai_input": {
                    "query": QUERY, "items": ["ok", ""], "label_token_ids": labels}}}) as response:
            failed = await response.json()
    assert done["status"] == "COMPLETED", done
    assert len(done["output"][0]["scores"]) == len(ITEMS)
    assert failed["status"] == "FAILED", failed
    error = json.loads(failed["error"])
    assert error["type"] == "BadRequestError" and error["param"] == "items[1]", error
