"""Issue 22 in load-balancing mode, on a sequence classifier served with ``--is-embedding``:
``/v1/classify`` answers as the bare engine does; token ids outside the vocabulary, which crash
that engine, are refused and it lives on; the cross-encoder ``/v1/rerank`` path scores as the
engine does, and content parts (whose images it would drop) are refused before any fetch."""

from __future__ import annotations

import pytest

from tests.integration.embeddings.conftest import hostile_images
from tests.integration.retrieval.conftest import CLASSIFIER_ENV
from tests.support.image_server import ConnectionCounter
from tests.support.lb_worker import running_lb_worker
from tests.support.retrieval_cases import (
    DOCUMENTS,
    QUERY,
    assert_sglang_error,
    classify,
    image_documents,
    image_part,
    post,
    rerank,
)
from tiny_models.build import CLASSIFIER_LABELS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lb(tiny_classifier_model, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("lb-classify") / "worker.log"
    with running_lb_worker(tiny_classifier_model, log_path, **CLASSIFIER_ENV) as worker:
        yield worker


async def test_classify_is_the_engines(lb):
    engine, worker = f"{lb.engine_url}/v1/classify", f"{lb.url}/v1/classify"
    for body in ({"input": "a happy day"}, {"input": DOCUMENTS}, {"input": [1, 2, 3]}):
        data, tokens = await classify(worker, body)
        assert (data, tokens) == await classify(engine, body)
        assert all(entry["label"] in CLASSIFIER_LABELS and entry["num_classes"] == 3
                   for entry in data)
        assert abs(sum(data[0]["probs"]) - 1.0) < 1e-5


async def test_token_ids_that_crash_the_engine_are_refused_and_it_lives(lb):
    worker = f"{lb.url}/v1/classify"
    for body, param in (({"input": [1, 10**6]}, "input"), ({"input": ["a", ""]}, "input")):
        status, response = await post(worker, body)
        assert_sglang_error(status, response, param)
    data, _ = await classify(worker, {"input": "still here"})
    assert len(data) == 1


async def test_the_cross_encoder_rerank_is_the_engines_and_refuses_parts(lb):
    engine, worker = f"{lb.engine_url}/v1/rerank", f"{lb.url}/v1/rerank"
    body = {"query": QUERY, "documents": DOCUMENTS, "top_n": 2}
    assert await rerank(worker, body) == await rerank(engine, body)
    async with ConnectionCounter() as listener:
        for documents in (image_documents(), [[image_part(hostile_images(listener.port)[0])]]):
            status, response = await post(worker, {"query": QUERY, "documents": documents})
            assert_sglang_error(status, response, "documents[0]", "reads text only")
        assert listener.connections == 0
