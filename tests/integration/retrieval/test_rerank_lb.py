"""Issue 22 in load-balancing mode, on a multimodal reranker (the tiny Qwen2-VL with a reranker
chat template): ``/v1/rerank`` with text and with image documents scores exactly as the bare
engine does; the image reaches the model, and so does a video the worker re-encoded; hostile
image and video sources in the query and the documents are refused naming the part, with zero
connections; part types the worker does not vet are refused; and every refusal takes SGLang's
error shape."""

from __future__ import annotations

import pytest

from tests.integration.embeddings.conftest import hostile_images, hostile_videos
from tests.integration.retrieval.conftest import GUARDED
from tests.support import video_corpus as corpus
from tests.support.image_server import ConnectionCounter
from tests.support.lb_worker import running_lb_worker
from tests.support.retrieval_cases import (
    DOCUMENTS,
    IMAGE,
    QUERY,
    assert_sglang_error,
    image_documents,
    image_part,
    post,
    rerank,
    text_part,
    video_part,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lb(tiny_reranker_model, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("lb-rerank") / "worker.log"
    with running_lb_worker(tiny_reranker_model, log_path, **GUARDED) as worker:
        yield worker


@pytest.fixture
def urls(lb):
    return f"{lb.engine_url}/v1/rerank", f"{lb.url}/v1/rerank"


async def test_a_text_rerank_is_the_engines(urls):
    engine, worker = urls
    for body in ({"query": QUERY, "documents": DOCUMENTS},
                 {"query": QUERY, "documents": DOCUMENTS, "top_n": 2, "return_documents": False,
                  "instruct": "Find the picture."}):
        assert await rerank(worker, body) == await rerank(engine, body)
    top = await rerank(worker, {"query": QUERY, "documents": DOCUMENTS, "top_n": 2})
    assert len(top) == 2 and {document for _, _, document in top} <= set(DOCUMENTS)


async def test_image_documents_score_as_on_the_engine_and_the_image_counts(urls, lb):
    engine, worker = urls
    body = {"query": QUERY, "documents": image_documents(), "return_documents": False}
    scores = await rerank(worker, body)
    assert scores == await rerank(engine, body)
    by_index = {index: score for index, score, _ in scores}
    assert by_index[0] != by_index[1]  # the same text without the image scores otherwise
    assert all(0.0 < score < 1.0 for score in by_index.values())
    query = {"query": [text_part(QUERY), image_part(IMAGE)], "documents": DOCUMENTS}
    assert await rerank(worker, query) == await rerank(engine, query)  # string documents echo
    assert "images=1" in lb.log()


async def test_part_documents_are_not_echoed_where_sglang_would_fail(urls):
    engine, worker = urls
    body = {"query": QUERY, "documents": image_documents()}
    status, failed = await post(engine, body)
    assert status == 400 and "valid string" in failed["message"]  # bare SGLang's own failure
    assert [document for _, _, document in await rerank(worker, body)] == [None] * 3
    status, refused = await post(worker, {**body, "return_documents": True})
    assert_sglang_error(status, refused, "return_documents", "only as strings")


async def test_hostile_sources_in_the_query_and_documents_are_refused_unfetched(urls):
    _, worker = urls
    async with ConnectionCounter() as listener:
        for image in hostile_images(listener.port):
            for body, param in (
                    ({"query": QUERY, "documents": ["x", [text_part("y"), image_part(image)]]},
                     "documents[1][1]"),
                    ({"query": [image_part(image)], "documents": ["x"]}, "query[0]")):
                status, response = await post(worker, body)
                assert status == 400 and response["param"] == param, (image, response)
                assert response["object"] == "error", response
        for video in hostile_videos(listener.port):
            status, response = await post(worker, {"query": QUERY,
                                                   "documents": [[video_part(video)]]})
            assert status == 400 and response["param"] == "documents[0][0]", (video, response)
        assert listener.connections == 0


async def test_parts_the_worker_does_not_vet_are_refused_in_sglangs_shape(urls):
    engine, worker = urls
    for part in ({"type": "image", "image": "/etc/hostname"},
                 {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                 {"type": "file", "file": {"file_id": "x"}}):
        status, response = await post(worker, {"query": QUERY, "documents": [[part]]})
        assert_sglang_error(status, response, "documents[0][0]", "is not supported")
    status, response = await post(worker, {"query": QUERY, "documents": DOCUMENTS,
                                           "stream": True})
    assert_sglang_error(status, response, "stream", "stream is not supported")
    status, response = await post(worker, {"query": QUERY, "documents": ["x"], "top_n": 0})
    assert_sglang_error(status, response, "top_n", "greater than or equal to 1")
    body = {"query": "", "documents": DOCUMENTS}
    assert await post(worker, body) == await post(engine, body)  # SGLang's own 400


async def test_a_video_document_is_prepared_and_reaches_the_model(urls, lb):
    _, worker = urls
    clip = corpus.data_url(corpus.make_clip(160, 96, 2, 10))
    body = {"query": QUERY, "documents": [[text_part("a clip"), video_part(clip)],
                                          [text_part("a clip")]]}
    by_index = {index: score for index, score, _ in await rerank(worker, body)}
    assert by_index[0] != by_index[1] and 0.0 < by_index[0] < 1.0
    assert "videos=1" in lb.log()
