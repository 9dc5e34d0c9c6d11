"""``EngineClient.stream`` end to end over loopback HTTP, against a small aiohttp server that
writes SSE the way SGLang does (one write per event, some split mid-event): every event comes
through once and whole, the first at once, the rest in window batches, and the end without
waiting for a window."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from sglang_worker.engine.client import EngineClient, EngineRequest
from sglang_worker.settings import Settings

EVENTS = [f'data: {{"n": {n}, "text": "token {n}"}}\n\n'.encode() for n in range(12)]
EVENTS.append(b"data: [DONE]\n\n")


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for n, event in enumerate(EVENTS):
        if n % 4 == 3:  # an event split across two writes
            await response.write(event[:7])
            await asyncio.sleep(0.002)
            event = event[7:]
        await response.write(event)
        await asyncio.sleep(0.005)
    await response.write_eof()
    return response


@pytest.fixture
async def engine_url():
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _sse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.mark.parametrize("window_ms", [0.0, 20.0, 10_000.0])
async def test_every_event_comes_through_whole_once_and_the_end_is_not_held(engine_url,
                                                                            window_ms):
    client = EngineClient(engine_url, Settings(stream_batch_window_ms=window_ms))
    request = EngineRequest("/v1/chat/completions", "POST", {"stream": True}, stream=True)
    try:
        for _ in range(2):  # and again on the same client
            start = time.monotonic()
            batches = [batch async for batch in client.stream(request)]
            elapsed = time.monotonic() - start
            assert [event for batch in batches for event in batch] == EVENTS
            assert batches[0] == [EVENTS[0]]
            if window_ms == 10_000.0:  # one window holds the rest; the end releases it
                assert len(batches) == 2 and elapsed < 5
            if window_ms == 20.0:
                assert 1 < len(batches) < len(EVENTS)
    finally:
        await client.close()
