"""``/v1/rerank`` and ``/v1/classify`` bodies (``apis.rerank``, ``apis.classify``): rerank's
image and video parts found in the query and each document, named and put back; part types
SGLang would not vet refused; content parts refused for a model whose rerank reads text only;
``return_documents`` kept from SGLang's failure on part documents; classify's token ids and
empty inputs checked; and neither route accepts ``stream: true``."""

from __future__ import annotations

import copy

import pytest

from sglang_worker.apis import api_for
from sglang_worker.engine.server import EngineInfo
from sglang_worker.errors import InvalidRequest
from sglang_worker.pipeline.request import validate_body
from sglang_worker.routes import CLASSIFY_ROUTE, RERANK_ROUTE, parse_route

RERANK = api_for(RERANK_ROUTE)
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
VIDEO = {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4", "fps": 1}}
TEXT = {"type": "text", "text": "a cat"}
VL = EngineInfo("http://127.0.0.1:1", "m", True, rerank_media=True)
TEXT_ONLY = EngineInfo("http://127.0.0.1:1", "m", True)


def rerank(body: dict) -> dict:
    return validate_body(RERANK_ROUTE, body, served_model="m", vocab_size=100)


def classify(body: dict) -> dict:
    return validate_body(CLASSIFY_ROUTE, body, served_model="m", vocab_size=100)


def test_a_text_rerank_passes_as_sent_with_the_model_filled_in():
    body = {"query": "q", "documents": ["a", "b"], "top_n": 1}
    assert rerank(body) == {**body, "model": "m"}
    assert RERANK.count("image", body) == RERANK.count("video", body) == 0
    RERANK.check_model(body, TEXT_ONLY)


def test_images_and_videos_of_the_query_and_documents_are_found_in_order_and_put_back():
    body = {"query": [TEXT, IMAGE], "documents": ["plain", [VIDEO, TEXT, IMAGE]],
            "return_documents": False}
    original = copy.deepcopy(body)
    rerank(body)
    images, videos = RERANK.parts("image", body), RERANK.parts("video", body)
    assert [(p.param, p.source) for p in images] == [
        ("query[1]", IMAGE["image_url"]["url"]), ("documents[1][2]", IMAGE["image_url"]["url"])]
    assert [(p.param, p.fps) for p in videos] == [("documents[1][0]", 1)]
    new = RERANK.with_prepared("image", body, {p.location: f"data:image/png;base64,I{i}"
                                               for i, p in enumerate(images)})
    new = RERANK.with_prepared("video", new, {videos[0].location: "data:video/mp4;base64,V"})
    assert body == original
    assert new["query"] == [TEXT, {"type": "image_url", "image_url": {
        "url": "data:image/png;base64,I0", "detail": "low"}}]
    assert new["documents"][1] == [
        {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,V"}}, TEXT,
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,I1", "detail": "low"}}]
    assert new["documents"][0] == "plain"


@pytest.mark.parametrize(("body", "param"), [
    ({"query": "q", "documents": [[{"type": "image", "image": "/etc/hostname"}]]},
     "documents[0][0]"),
    ({"query": [{"type": "input_audio", "input_audio": {"data": "AAAA"}}], "documents": ["a"]},
     "query[0]"),
    ({"query": "q", "documents": [[{"type": "file", "file": {}}]]}, "documents[0][0]"),
    ({"query": "q", "documents": [["a"]]}, "documents[0]"),
    ({"query": "q", "documents": [[TEXT]], "return_documents": True}, "return_documents"),
    ({"query": "q", "documents": []}, "documents"),
    ({"query": 3, "documents": ["a"]}, "query"),
    ({"query": "q", "documents": "a"}, "documents"),
    ({"query": "q", "documents": ["a"], "stream": True}, "stream"),
    ({"query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
])
def test_rerank_bodies_the_worker_cannot_vet_or_sglang_would_fail_are_refused(body, param):
    with pytest.raises(InvalidRequest) as raised:
        rerank(body)
    assert raised.value.param == param
    assert raised.value.status == 400
    if param == "documents[0]":
        assert raised.value.message == ("documents[0] must be a string or a list of text, "
                                        "image_url and video_url parts")


def test_part_documents_are_not_echoed_unless_the_caller_chose():
    assert rerank({"query": "q", "documents": [[TEXT]]})["return_documents"] is False
    assert rerank({"query": [TEXT], "documents": ["a"]}).get("return_documents") is None
    assert rerank({"query": "q", "documents": [[TEXT]], "return_documents": False})[
        "return_documents"] is False


@pytest.mark.parametrize("body", [
    {"query": [TEXT], "documents": ["a"]},
    {"query": "q", "documents": ["a", [TEXT, IMAGE]], "return_documents": False},
])
def test_content_parts_are_refused_when_the_models_rerank_reads_text_only(body):
    with pytest.raises(InvalidRequest) as raised:
        RERANK.check_model(body, TEXT_ONLY)
    assert "reads text only" in raised.value.message
    assert raised.value.param == ("query" if isinstance(body["query"], list) else "documents[1]")
    RERANK.check_model(body, VL)


@pytest.mark.parametrize("value", ["hello", ["a", "b"], [1, 2, 3]])
def test_classify_inputs_pass_as_sent(value):
    assert classify({"input": value}) == {"input": value, "model": "m"}


@pytest.mark.parametrize(("body", "param"), [
    ({"input": ""}, "input"), ({"input": []}, "input"), ({"input": ["a", ""]}, "input"),
    ({"input": [1, 100]}, "input"), ({"input": [[1]]}, "input"),
    ({"input": "a", "stream": True}, "stream"), ({"input": "a", "lora_path": "x"}, None),
])
def test_classify_bodies_that_would_crash_the_engine_are_refused(body, param):
    if param is None:  # a field ClassifyRequest does not read passes, as SGLang ignores it
        classify(body)
        return
    with pytest.raises(InvalidRequest) as raised:
        classify(body)
    assert raised.value.param == param


@pytest.mark.parametrize("route", ["/v1/embeddings", "/v1/score", "/v1/tokenize",
                                   "/v1/messages/count_tokens"])
def test_routes_that_cannot_stream_refuse_stream_true(route):
    api = api_for(route)
    from tests.unit.apis.test_field_audit import MINIMAL
    validate_body(route, {**MINIMAL[api.name], "stream": False}, served_model="m")
    with pytest.raises(InvalidRequest, match="stream is not supported on"):
        validate_body(route, {**MINIMAL[api.name], "stream": True}, served_model="m")


def test_rerank_and_classify_errors_take_sglangs_shape():
    assert parse_route("/v1/rerank").error_shape == parse_route("/v1/classify").error_shape \
        == "sglang"
