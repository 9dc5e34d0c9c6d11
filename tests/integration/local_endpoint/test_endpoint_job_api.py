"""RunPod's job API on the local endpoint, driven with plain HTTP, and cancellation: every
cancel (``/cancel``, or a client that goes away) reaches the worker's handler as a cancel and
aborts the request in SGLang."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

pytestmark = pytest.mark.integration

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
        "temperature": 0}
LONG = {"messages": [{"role": "user", "content": "Count."}], "max_tokens": 3000,
        "temperature": 0, "ignore_eos": True}


def openai_job(body: dict) -> dict:
    return {"openai_route": "/v1/chat/completions", "openai_input": body}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        yield session


async def post(http, url: str, body: dict | None = None) -> dict:
    async with http.post(url, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def get(http, url: str) -> dict:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def engine_idle(local_endpoint) -> None:
    await asyncio.to_thread(local_endpoint.wait_until,
                            lambda: local_endpoint.engine_requests() == 0, 15,
                            "SGLang to abort the request")


async def engine_busy(local_endpoint) -> None:
    await asyncio.to_thread(local_endpoint.wait_until,
                            lambda: local_endpoint.engine_requests() >= 1, 60,
                            "SGLang to run the request")


@pytest.fixture(autouse=True)
async def engine_left_clean(http, local_endpoint):
    """A test whose cancel failed has already failed; its runaway generation must not also
    fail the tests after it, so whatever is still running at the end is aborted."""
    yield
    if await asyncio.to_thread(local_endpoint.engine_requests):
        async with http.post(f"{local_endpoint.engine_url}/abort_request",
                             json={"abort_all": True}) as response:
            assert response.status == 200, await response.text()
        await engine_idle(local_endpoint)


async def test_run_then_stream_until_complete_then_status(http, local_endpoint):
    base = f"{local_endpoint.url}/v2/local"
    queued = await post(http, f"{base}/run", {"input": openai_job({**CHAT, "stream": True})})
    assert queued["status"] in ("IN_QUEUE", "IN_PROGRESS")
    streamed, polls = [], 0
    while True:
        body = await get(http, f"{base}/stream/{queued['id']}")
        polls += 1
        streamed += [item["output"] for item in body["stream"]]
        if body["status"] not in ("IN_QUEUE", "IN_PROGRESS"):
            break
    assert body["status"] == "COMPLETED" and polls >= 2
    text = "".join(streamed)
    assert text.startswith("data: {") and text.endswith("data: [DONE]\n\n")
    status = await get(http, f"{base}/status/{queued['id']}")
    assert status["status"] == "COMPLETED" and status["output"] == streamed
    assert status["executionTime"] > 0 and status["delayTime"] >= 0
    assert status["workerId"]


async def test_runsync_returns_the_output(http, local_endpoint):
    body = await post(http, f"{local_endpoint.url}/runsync", {"input": openai_job(CHAT)})
    assert body["id"].startswith("sync-") and body["status"] == "COMPLETED"
    assert body["output"][0]["object"] == "chat.completion"


async def test_a_failed_job_reports_the_error_contract(http, local_endpoint):
    body = await post(http, f"{local_endpoint.url}/runsync",
                      {"input": {"openai_route": "/shutdown", "openai_input": {"x": 1}}})
    assert body["status"] == "FAILED" and '"code": 404' in body["error"]


async def test_runsync_answers_in_progress_after_its_wait_then_cancel(http, local_endpoint):
    body = await post(http, f"{local_endpoint.url}/runsync?wait=1000",
                      {"input": openai_job({**LONG, "stream": True})})
    assert body["status"] == "IN_PROGRESS" and set(body) == {"id", "status"}
    cancelled = await post(http, f"{local_endpoint.url}/cancel/{body['id']}")
    assert cancelled == {"id": body["id"], "status": "CANCELLED"}
    await asyncio.to_thread(local_endpoint.wait_cancelled_in_worker, body["id"])
    await engine_idle(local_endpoint)


async def test_cancel_mid_stream_aborts_the_engine_request(http, local_endpoint):
    job = await post(http, f"{local_endpoint.url}/run", {"input": {**LONG, "stream": True}})
    while not (await get(http, f"{local_endpoint.url}/stream/{job['id']}"))["stream"]:
        pass
    assert await asyncio.to_thread(local_endpoint.engine_requests) >= 1
    assert (await post(http, f"{local_endpoint.url}/cancel/{job['id']}"))["status"] == "CANCELLED"
    await asyncio.to_thread(local_endpoint.wait_cancelled_in_worker, job["id"])
    await engine_idle(local_endpoint)
    status = await get(http, f"{local_endpoint.url}/status/{job['id']}")
    assert status["status"] == "CANCELLED"


async def test_openai_client_that_leaves_a_stream_cancels_its_job(http, local_endpoint):
    cancelled_before = local_endpoint.log().count("outcome=cancelled")
    async with http.post(f"{local_endpoint.openai_base_url}/chat/completions",
                         json={**LONG, "stream": True}) as response:
        assert (await response.content.readuntil(b"\n\n")).startswith(b"data: {")
        response.close()  # the client goes away in the middle of the stream
    await engine_idle(local_endpoint)
    assert local_endpoint.log().count("outcome=cancelled") > cancelled_before


@pytest.mark.parametrize("path, body", [
    ("/openai/v1/chat/completions", LONG),
    ("/runsync", {"input": openai_job(LONG)}),
], ids=["openai-not-streaming", "runsync"])
async def test_a_client_that_disconnects_while_waiting_cancels_its_job(http, local_endpoint,
                                                                       path, body):
    cancelled_before = local_endpoint.log().count("outcome=cancelled")
    request = asyncio.create_task(http.post(local_endpoint.url + path, json=body))
    await engine_busy(local_endpoint)
    request.cancel()  # the client gives up: its connection closes
    await engine_idle(local_endpoint)
    await asyncio.to_thread(local_endpoint.wait_until, lambda: local_endpoint.log().count(
        "outcome=cancelled") > cancelled_before, 15, "the worker to log the cancel")


async def test_health(http, local_endpoint):
    body = await get(http, f"{local_endpoint.url}/health")
    assert set(body["jobs"]) == {"completed", "failed", "inProgress", "inQueue"}
    assert body["workers"]["idle"] + body["workers"]["running"] == 1
