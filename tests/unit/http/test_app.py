"""The load-balancing app's HTTP logic on loopback, over a fake pipeline (no SGLang): /ping's
states, the route guard, methods, the body limit, the in-flight bound, SSE and its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from sglang_worker.engine.server import EngineInfo
from sglang_worker.errors import EngineUnavailable, ImageError
from sglang_worker.http.app import LoadBalancingApp
from sglang_worker.pipeline import build_request
from sglang_worker.settings import Settings

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


class FakePipeline:
    """What the app calls: ``info``, ``engine_alive``, ``build``, ``call`` and ``events``."""

    def __init__(self) -> None:
        self.info = EngineInfo("http://127.0.0.1:9", "m", vision=True)
        self.alive = True
        self.release = asyncio.Event()
        self.release.set()
        self.calls = 0
        self.events_then: Exception | None = None

    def engine_alive(self) -> bool:
        return self.alive

    def build(self, route, body):
        return build_request(route, body, served_model="m")

    async def call(self, request, stats):
        self.calls += 1
        await self.release.wait()
        return {"object": "chat.completion", "route": request.route}

    async def events(self, request, stats) -> AsyncIterator[list[bytes]]:
        yield [b'data: {"n": 1}\n\n']
        if self.events_then is not None:
            raise self.events_then
        yield [b'data: {"n": 2}\n\n', b"data: [DONE]\n\n"]


@pytest.fixture
async def served():
    settings = Settings(max_concurrency=1, lb_queue_timeout_s=0.2, lb_max_body_bytes=1000)
    app = LoadBalancingApp(settings)
    runner = web.AppRunner(app.application(), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with aiohttp.ClientSession() as http:
        yield app, url, http
    await runner.cleanup()


async def test_ping_is_204_while_starting_200_when_ready_503_when_the_engine_is_gone(served):
    app, url, http = served
    async with http.get(f"{url}/ping") as response:
        assert response.status == 204
    async with http.post(f"{url}/v1/chat/completions", json=CHAT) as response:
        assert response.status == 503 and response.headers["Retry-After"] == "5"
    pipeline = FakePipeline()
    app.ready(pipeline)
    async with http.get(f"{url}/ping") as response:
        assert response.status == 200
    pipeline.alive = False
    async with http.get(f"{url}/ping") as response:
        assert response.status == 503
        assert (await response.json())["message"] == "the SGLang engine has stopped"
    app.unhealthy("the worker is shutting down")
    async with http.post(f"{url}/v1/chat/completions", json=CHAT) as response:
        assert response.status == 503
        assert (await response.json())["error"]["message"] == "the worker is shutting down"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/flush_cache", 404), ("POST", "/release_memory_occupation", 404),
    ("GET", "/v1/models/%2e%2e/%2e%2e/flush_cache", 400), ("GET", "/v1/chat/completions", 405),
    ("POST", "/v1/models", 405),
])
async def test_the_route_guard_and_methods(served, method, path, status):
    app, url, http = served
    pipeline = FakePipeline()
    app.ready(pipeline)
    # encoded=True: the client sends the target as written, dot segments and all.
    async with http.request(method, URL(url + path, encoded=True), json={}) as response:
        assert response.status == status
        assert (await response.json())["error"]["code"] == status
    assert pipeline.calls == 0


async def test_routes_answer_at_v1_and_under_openai_v1(served):
    app, url, http = served
    app.ready(FakePipeline())
    for prefix in ("", "/openai"):
        async with http.post(f"{url}{prefix}/v1/chat/completions", json=CHAT) as response:
            assert response.status == 200
            assert (await response.json())["route"] == "/v1/chat/completions"


async def test_a_body_over_the_limit_is_a_413(served):
    app, url, http = served
    app.ready(FakePipeline())
    async with http.post(f"{url}/v1/chat/completions",
                         json={**CHAT, "pad": "x" * 2000}) as response:
        assert response.status == 413
        assert "over the 0.001 MB limit" in (await response.json())["error"]["message"]


async def test_a_request_beyond_the_slots_waits_then_gets_a_429(served):
    app, url, http = served
    pipeline = FakePipeline()
    pipeline.release.clear()
    app.ready(pipeline)
    first = asyncio.ensure_future(http.post(f"{url}/v1/chat/completions", json=CHAT))
    async with asyncio.timeout(10):
        while pipeline.calls == 0:
            await asyncio.sleep(0.01)
    assert app.in_flight == 1
    async with http.post(f"{url}/v1/chat/completions", json=CHAT) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "2"
        assert "MAX_CONCURRENCY" in (await response.json())["error"]["message"]
    pipeline.release.set()
    async with await first as response:
        assert response.status == 200
    assert await app.wait_idle(1.0)


async def test_sse_is_written_as_it_comes_and_a_late_error_goes_in_band(served):
    app, url, http = served
    pipeline = FakePipeline()
    app.ready(pipeline)
    async with http.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert await r.text() == 'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: [DONE]\n\n'
    pipeline.events_then = EngineUnavailable("gone")
    async with http.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        text = await r.text()
    assert r.status == 200 and text.startswith('data: {"n": 1}\n\n')
    assert '"message": "gone"' in text and "[DONE]" not in text


async def test_the_done_event_ends_the_body_in_its_write_and_nothing_follows_it(served, caplog):
    app, url, http = served
    pipeline = FakePipeline()

    async def done_first(request, stats):
        yield [b"data: [DONE]\n\n"]  # the response is prepared and ended by one write
        yield [b'data: {"late": 1}\n\n']

    pipeline.events = done_first
    app.ready(pipeline)
    async with http.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.status == 200 and await r.text() == "data: [DONE]\n\n"
    assert "the engine sent 19 bytes after [DONE]" in caplog.text

    async def fails_after_done(request, stats):
        yield [b'data: {"n": 1}\n\n', b"data: [DONE]\n\n"]
        raise EngineUnavailable("gone")

    pipeline.events = fails_after_done
    async with http.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert await r.text() == 'data: {"n": 1}\n\ndata: [DONE]\n\n'  # ended cleanly


async def test_an_error_before_the_first_event_keeps_its_http_status(served):
    app, url, http = served
    pipeline = FakePipeline()

    async def failing(request, stats):
        raise ImageError("bad image", param="messages[0].content[0]")
        yield  # an async generator

    pipeline.events = failing
    app.ready(pipeline)
    async with http.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.status == 400
        assert (await r.json())["error"]["param"] == "messages[0].content[0]"
