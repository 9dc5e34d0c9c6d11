"""Issue 22 through the local endpoint (``make serve``), on the multimodal reranker:
``/v1/rerank`` with image documents answers through RunPod's OpenAI route exactly as on the bare
engine, and as a ``/runsync`` job; hostile image sources in the documents are refused naming the
part, through the relay in SGLang's error shape and as a failed job, with zero connections."""

from __future__ import annotations

import json

import pytest

from tests.integration.embeddings.conftest import hostile_images
from tests.integration.retrieval.conftest import GUARDED, runsync
from tests.support.image_server import ConnectionCounter
from tests.support.local_endpoint import running_local_endpoint
from tests.support.retrieval_cases import (
    QUERY,
    image_documents,
    image_part,
    post,
    ranked,
    rerank,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reranker(tiny_reranker_model, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("rerank-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_reranker_model, log_path, **GUARDED) as endpoint:
        yield endpoint


async def test_an_image_rerank_through_the_openai_route_and_as_a_job(reranker):
    body = {"query": QUERY, "documents": image_documents()}
    expected = await rerank(f"{reranker.engine_url}/v1/rerank",
                            {**body, "return_documents": False})
    assert await rerank(f"{reranker.openai_base_url}/rerank", body) == expected
    job = await runsync(reranker, "/v1/rerank", body)
    assert job["status"] == "COMPLETED", job
    assert ranked(job["output"][0]) == expected


async def test_hostile_rerank_documents_fail_through_both_ways_unfetched(reranker):
    async with ConnectionCounter() as listener:
        for image in hostile_images(listener.port):
            body = {"query": QUERY, "documents": ["x", [image_part(image)]]}
            status, response = await post(f"{reranker.openai_base_url}/rerank", body)
            assert status == 400 and response["param"] == "documents[1][0]", (image, response)
            assert response["object"] == "error", response
            job = await runsync(reranker, "/v1/rerank", body)
            assert job["status"] == "FAILED", job
            assert json.loads(job["error"])["param"] == "documents[1][0]", job
        assert listener.connections == 0
