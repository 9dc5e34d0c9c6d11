"""Route canonicalisation and the allowlist (issue 10: admin routes through ``/v1/models/../..``).

Every spelling that could resolve to another path on the way to SGLang is a 400 naming
``openai_route``; what is accepted is one plain path that the engine client sends unchanged.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from yarl import URL

from sglang_worker.engine.client import EngineClient
from sglang_worker.errors import InvalidRequest, RouteNotAllowed
from sglang_worker.pipeline.request import EngineRequest, build_request
from sglang_worker.routes import (
    INFERENCE_ROUTES,
    READ_ROUTES,
    Route,
    canonical_route,
    check_route,
    engine_path,
    model_id,
)
from sglang_worker.settings import Settings
from tests.support.fuzz_strategies import HOSTILE_ROUTES, route_spellings

ADMIN_ROUTES = ("/flush_cache", "/release_memory_occupation", "/get_server_info",
                "/server_info", "/shutdown", "/update_weights_from_disk", "/load_lora_adapter",
                "/load_lora_adapter_from_tensors", "/unload_lora_adapter")


@pytest.mark.parametrize("route", HOSTILE_ROUTES)
def test_hostile_spellings_are_a_400_naming_openai_route(route):
    with pytest.raises(InvalidRequest) as info:
        canonical_route(route)
    assert info.value.status == 400
    assert info.value.param == "openai_route"
    assert "is not a valid route" in info.value.message


@pytest.mark.parametrize(("route", "canonical"), [
    ("/v1/chat/completions", "/v1/chat/completions"),
    ("v1/chat/completions", "/v1/chat/completions"),
    ("/v1/chat/completions/", "/v1/chat/completions"),
    ("/openai/v1/models", "/v1/models"),
    ("/v1/models?limit=1", "/v1/models"),
    ("/v1/%63hat/completions", "/v1/chat/completions"),
    ("/v1/models/Qwen/Qwen2.5-VL-7B-Instruct", "/v1/models/Qwen/Qwen2.5-VL-7B-Instruct"),
    ("/v1/models/org/name..v2", "/v1/models/org/name..v2"),
])
def test_plain_spellings_have_one_canonical_form(route, canonical):
    assert canonical_route(route) == canonical


@pytest.mark.parametrize("route", (*ADMIN_ROUTES, "/FLUSH_CACHE", "/V1/models", "/v1/files"))
def test_canonical_routes_outside_the_allowlist_are_not_served(route):
    with pytest.raises(RouteNotAllowed) as info:
        check_route(canonical_route(route))
    assert info.value.status == 404
    assert info.value.param == "openai_route"


def test_model_ids_with_a_slash_are_read_routes():
    check_route(canonical_route("/v1/models/Qwen/Qwen2.5-VL-7B-Instruct"))


@pytest.mark.parametrize(("route", "wire"), [
    ("/v1/chat/completions", "/v1/chat/completions"),
    ("/v1/messages/count_tokens", "/v1/messages/count_tokens"),
    ("/a;b=c@d/e", "/a%3Bb%3Dc%40d/e"),
])
def test_engine_path_encodes_all_but_unreserved_characters(route, wire):
    assert engine_path(route) == wire


def _client() -> EngineClient:
    return EngineClient("http://127.0.0.1:9", Settings())


def test_the_engine_url_is_exactly_the_checked_path():
    url = _client().url_for("/v1/chat/completions")
    assert str(url) == "http://127.0.0.1:9/v1/chat/completions"


@pytest.mark.parametrize("route", ["/v1/models/../../flush_cache", "/v1/models/./x",
                                   "/v1/models//flush_cache"])
def test_the_engine_client_refuses_a_route_that_was_not_canonicalised(route):
    """Defence in depth: an EngineRequest built around the parser is refused before sending."""
    async def send() -> None:
        client = _client()
        try:
            await client.call(EngineRequest(route, "GET", None, stream=False))
        finally:
            await client.close()

    with pytest.raises(InvalidRequest) as info:
        asyncio.run(send())
    assert info.value.param == "openai_route"


@given(route_spellings)
def test_whatever_is_accepted_resolves_to_itself_and_is_allowed(route):
    """No spelling that passes both checks can land on another path, however a client or
    server resolves dot segments and escapes."""
    try:
        canonical = canonical_route(route)
        check_route(canonical)
    except InvalidRequest:
        return
    assert not any(part and not part.strip(".") for part in canonical.split("/"))
    if model_id(canonical) is not None:  # answered from the list: the id is never sent
        assert build_request(Route(canonical), None, served_model="m").route == "/v1/models"
        return
    resolved = URL("http://h" + engine_path(canonical))
    assert resolved.path == canonical
    assert canonical in INFERENCE_ROUTES | READ_ROUTES
