"""Issue 22 through the local endpoint (``make serve``), on the sequence classifier:
``/v1/classify`` answers through RunPod's OpenAI route exactly as on the bare engine, and as a
``/runsync`` job; token ids that would crash the engine are refused in SGLang's error shape
through the relay and fail the job with that body."""

from __future__ import annotations

import json

import pytest

from tests.integration.retrieval.conftest import CLASSIFIER_ENV, runsync
from tests.support.local_endpoint import running_local_endpoint
from tests.support.retrieval_cases import DOCUMENTS, assert_sglang_error, classify, post

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def classifier(tiny_classifier_model, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("classify-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_classifier_model, log_path, **CLASSIFIER_ENV) as endpoint:
        yield endpoint


async def test_classify_answers_as_the_engine_through_both_ways(classifier):
    body = {"input": DOCUMENTS}
    expected = await classify(f"{classifier.engine_url}/v1/classify", body)
    assert await classify(f"{classifier.openai_base_url}/classify", body) == expected
    job = await runsync(classifier, "/v1/classify", body)
    assert job["status"] == "COMPLETED", job
    assert job["output"][0]["data"] == expected[0]
    status, response = await post(f"{classifier.openai_base_url}/classify", {"input": [10**6]})
    assert_sglang_error(status, response, "input", "outside the model's vocabulary")
    job = await runsync(classifier, "/v1/classify", {"input": [10**6]})
    assert job["status"] == "FAILED" and json.loads(job["error"])["type"] == "BadRequestError"
