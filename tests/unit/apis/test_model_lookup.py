"""Issue 18: ``/v1/models/{id}`` takes the id as one opaque parameter, answers from SGLang's
list, and never sends the id to SGLang."""

from __future__ import annotations

import pytest

from sglang_worker.errors import InvalidRequest, ModelNotFound
from sglang_worker.pipeline.models import pick_model
from sglang_worker.pipeline.request import build_request
from sglang_worker.routes import canonical_route, model_id, parse_route
from tests.support.fuzz_strategies import HOSTILE_ROUTES

LISTING = {"object": "list", "data": [
    {"id": "Qwen/Qwen2.5-VL-7B-Instruct", "object": "model", "root": "Qwen/Qwen2.5-VL-7B-Instruct"},
    {"id": "/models/local-vl", "object": "model", "root": "/models/local-vl"}]}


@pytest.mark.parametrize(("route", "wanted"), [
    ("/v1/models/Qwen%2FQwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("/v1/models/Qwen%2fQwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("/v1/models/Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("/openai/v1/models/Qwen%2FQwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("v1/models/Qwen%2FQwen2.5-VL-7B-Instruct?x=1", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("/v1/models/%2Fmodels%2Flocal-vl", "/models/local-vl"),
    ("/v1/models//models/local-vl", "/models/local-vl"),
    ("/v1/models/org/name..v2", "org/name..v2"),
])
def test_the_id_is_decoded_once_and_kept_whole(route, wanted):
    assert model_id(canonical_route(route)) == wanted


@pytest.mark.parametrize("route", [r for r in HOSTILE_ROUTES if "models" in r.lower()] + [
    "/v1/models/Qwen%2F..%2F..%2Fflush_cache", "/v1/models/%2F..%2Fflush_cache",
    "/v1/models/x%5c..", "/v1/models/a%2500b"])
def test_traversal_spellings_inside_an_id_stay_refused(route):
    with pytest.raises(InvalidRequest) as info:
        canonical_route(route)
    assert info.value.param == "openai_route"


def test_a_lookup_is_a_get_of_the_list_and_the_id_is_not_on_the_wire():
    request = build_request(parse_route("/v1/models/%2Fmodels%2Flocal-vl"), None,
                            served_model="m")
    assert (request.route, request.method, request.model_id) == (
        "/v1/models", "GET", "/models/local-vl")


@pytest.mark.parametrize("wanted", ["Qwen/Qwen2.5-VL-7B-Instruct", "/models/local-vl"])
def test_the_entry_is_the_one_whose_id_matches_exactly(wanted):
    assert pick_model(LISTING, wanted)["id"] == wanted


@pytest.mark.parametrize("wanted", ["qwen/qwen2.5-vl-7b-instruct", "Qwen", "models/local-vl",
                                    "../../flush_cache", ""])
def test_any_other_id_is_a_404_naming_the_served_models(wanted):
    with pytest.raises(ModelNotFound) as info:
        pick_model(LISTING, wanted)
    assert (info.value.status, info.value.param) == (404, "model")
    assert f"The model {wanted!r} does not exist" in info.value.message
    assert "'Qwen/Qwen2.5-VL-7B-Instruct', '/models/local-vl'" in info.value.message
