"""The local endpoint's HTTP surface on loopback, with the test playing the worker: it calls the
worker-facing job API by hand (job-take, job-stream, job-done, job-stop), so each step of the
relay can be observed. No SGLang, no worker process.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import anthropic
import openai
import pytest
import runpod
from aiohttp import web
from runpod.endpoint.asyncio.asyncio_runner import Endpoint as AsyncEndpoint
from runpod.endpoint.asyncio.asyncio_runner import Job as AsyncJob

from runpod_local.__main__ import public_app
from runpod_local.board import JobBoard
from runpod_local.job_api import WorkerJobAPI
from runpod_local.settings import LocalSettings
from sglang_worker.errors import ImageError, WorkerError, sse_error_event

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


class Endpoint:
    def __init__(self) -> None:
        self.board = JobBoard(execution_timeout_s=0)
        self.job_api = WorkerJobAPI(self.board, poll_s=0.5)
        self.url = ""
        self.runner: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Endpoint:
        await self.job_api.start()
        settings = LocalSettings(runsync_wait_s=30)
        self.runner = web.AppRunner(public_app(self.board, settings), handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()
        await self.runner.cleanup()
        await self.job_api.close()

    # --- playing the worker -------------------------------------------------------------
    async def take(self) -> dict:
        async with self.http.get(f"{self.job_api.base_url}/job-take/w?x=1") as response:
            assert response.status == 200
            return await response.json()

    async def post(self, kind: str, job_id: str, payload: dict) -> None:
        # The SDK sends JSON text with a form content type.
        async with self.http.post(f"{self.job_api.base_url}/{kind}/w/{job_id}?x=1",
                                  data=json.dumps(payload), headers={
                                      "Content-Type": "application/x-www-form-urlencoded"}) as r:
            assert r.status == 200

    async def stop_ids(self) -> list[str]:
        async with self.http.get(f"{self.job_api.base_url}/job-stop/w?x=1") as response:
            return (await response.json())["jobsToStop"] if response.status == 200 else []


@pytest.fixture
async def endpoint():
    async with Endpoint() as endpoint:
        yield endpoint


async def test_job_take_long_polls_batches_and_answers_204_when_idle(endpoint):
    async with endpoint.http.get(f"{endpoint.job_api.base_url}/job-take/w?x=1") as response:
        assert response.status == 204
    ids = [endpoint.board.submit({"n": n}).id for n in range(3)]
    url = f"{endpoint.job_api.base_url}/job-take-batch/w?x=1&batch_size=2&job_in_progress=0"
    async with endpoint.http.get(url) as response:
        assert [job["id"] for job in await response.json()] == ids[:2]
    assert (await endpoint.take())["input"] == {"n": 2}
    assert endpoint.board.worker_ready.is_set()


async def test_run_stream_status_and_the_v2_prefix(endpoint):
    async with endpoint.http.post(f"{endpoint.url}/v2/any-id/run",
                                  json={"input": {"prompt": "x"}}) as response:
        queued = await response.json()
    assert queued["status"] == "IN_QUEUE" and queued["id"].endswith("-u1")
    job = await endpoint.take()
    assert job == {"id": queued["id"], "input": {"prompt": "x"}}
    await endpoint.post("job-stream", job["id"], {"output": {"text": "a"}})
    async with endpoint.http.get(f"{endpoint.url}/stream/{job['id']}") as response:
        body = await response.json()
    assert body["status"] == "IN_PROGRESS" and body["stream"] == [{"output": {"text": "a"}}]
    await endpoint.post("job-stream", job["id"], {"output": {"text": "b"}})
    await endpoint.post("job-done", job["id"], {"output": [{"text": "a"}, {"text": "b"}]})
    async with endpoint.http.post(f"{endpoint.url}/stream/{job['id']}") as response:
        body = await response.json()
    assert body["status"] == "COMPLETED" and body["stream"] == [{"output": {"text": "b"}}]
    async with endpoint.http.get(f"{endpoint.url}/status/{job['id']}") as response:
        status = await response.json()
    assert status["output"] == [{"text": "a"}, {"text": "b"}]
    assert isinstance(status["delayTime"], int) and isinstance(status["executionTime"], int)
    async with endpoint.http.get(f"{endpoint.url}/health") as response:
        assert (await response.json())["jobs"]["completed"] == 1


async def test_unknown_job_and_bad_bodies(endpoint):
    async with endpoint.http.get(f"{endpoint.url}/status/nope") as response:
        assert response.status == 404 and "does not exist" in (await response.json())["error"]
    async with endpoint.http.post(f"{endpoint.url}/run", data=b"{") as response:
        assert response.status == 400 and "not valid JSON" in (await response.json())["error"]
    async with endpoint.http.post(f"{endpoint.url}/run", json={"x": 1}) as response:
        assert response.status == 400 and '"input"' in (await response.json())["error"]


async def test_size_limits_answer_413_with_a_clear_message(endpoint):
    def body(size: int) -> bytes:
        return json.dumps({"input": {"image": "A" * size}}).encode()

    async with endpoint.http.post(f"{endpoint.url}/run", data=body(10_100_000)) as response:
        assert response.status == 413
        message = (await response.json())["error"]
    assert "over the 10 MB limit of POST /run" in message and "URLs" in message
    async with endpoint.http.post(f"{endpoint.url}/runsync?wait=1000",
                                  data=body(10_100_000)) as response:
        assert response.status == 200  # /runsync allows 20 MB
    async with endpoint.http.post(f"{endpoint.url}/openai/v1/chat/completions",
                                  data=body(20_100_000)) as response:
        assert response.status == 413
        error = (await response.json())["error"]
    assert error["code"] == 413 and "20 MB limit" in error["message"]


async def test_runsync_answers_in_progress_after_its_wait_and_the_job_goes_on(endpoint):
    async with endpoint.http.post(f"{endpoint.url}/runsync?wait=1000",
                                  json={"input": "x"}) as response:
        body = await response.json()
    assert body["status"] == "IN_QUEUE" and body["id"].startswith("sync-")
    job = await endpoint.take()
    await endpoint.post("job-done", job["id"], {"output": ["ok"]})
    async with endpoint.http.get(f"{endpoint.url}/status/{body['id']}") as response:
        assert (await response.json())["output"] == ["ok"]


async def test_runsync_returns_the_result_when_the_job_finishes_in_time(endpoint):
    request = asyncio.create_task(endpoint.http.post(f"{endpoint.url}/runsync",
                                                     json={"input": "x"}))
    job = await endpoint.take()
    await endpoint.post("job-done", job["id"], {"error": "boom"})
    async with await request as response:
        assert await response.json() == {
            "id": job["id"], "status": "FAILED", "delayTime": pytest.approx(0, abs=5000),
            "workerId": "w", "executionTime": pytest.approx(0, abs=5000), "error": "boom"}


async def test_cancel_stops_a_running_job_through_job_stop(endpoint):
    job_id = endpoint.board.submit("x").id
    await endpoint.take()
    async with endpoint.http.post(f"{endpoint.url}/cancel/{job_id}") as response:
        assert await response.json() == {"id": job_id, "status": "CANCELLED"}
    assert await endpoint.stop_ids() == [job_id]


async def test_openai_stream_relays_each_yield_as_it_arrives(endpoint):
    # The response starts with the first yield, so the request waits while the job is taken.
    request = asyncio.create_task(endpoint.http.post(
        f"{endpoint.url}/openai/v1/chat/completions", json={**CHAT, "stream": True}))
    job = await endpoint.take()
    assert job["input"] == {"openai_route": "/v1/chat/completions",
                            "openai_input": {**CHAT, "stream": True}}
    await endpoint.post("job-stream", job["id"], {"output": 'data: {"n": 1}\n\n'})
    async with await request as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        # The first event is readable before the rest even exists.
        assert await response.content.readuntil(b"\n\n") == b'data: {"n": 1}\n\n'
        await endpoint.post("job-stream", job["id"],
                            {"output": 'data: {"n": 2}\n\ndata: [DONE]\n\n'})
        await endpoint.post("job-done", job["id"], {"output": ["..."]})
        assert await response.content.read() == b'data: {"n": 2}\n\ndata: [DONE]\n\n'


async def test_openai_failure_is_an_http_error_the_sdk_raises(endpoint):
    client = openai.AsyncOpenAI(base_url=f"{endpoint.url}/v2/x/openai/v1", api_key="k",
                                max_retries=0)

    async def worker() -> None:
        job = await endpoint.take()
        error = ImageError("image data is not valid base64", param="messages[0].content[0]")
        await endpoint.post("job-done", job["id"], {"error": error.to_job_error()})

    task = asyncio.create_task(worker())
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(model="m", **CHAT)
    await task
    assert raised.value.status_code == 400
    assert raised.value.body["message"] == "image data is not valid base64"
    await client.close()


async def test_openai_client_disconnect_cancels_the_job(endpoint):
    request = asyncio.create_task(endpoint.http.post(
        f"{endpoint.url}/openai/v1/chat/completions", json=CHAT))
    job = await endpoint.take()
    request.cancel()  # the client goes away before the answer
    assert await endpoint.stop_ids() == [job["id"]]
    assert endpoint.board.get(job["id"]).status == "CANCELLED"


async def test_purge_queue_removes_queued_jobs_keeps_running_ones_and_ends_their_waiters(
        endpoint, monkeypatch):
    async with endpoint.http.post(f"{endpoint.url}/run", json={"input": "a"}) as response:
        running = (await response.json())["id"]
    assert (await endpoint.take())["id"] == running
    waiter = asyncio.create_task(endpoint.http.post(f"{endpoint.url}/runsync",
                                                    json={"input": "b"}))
    async with endpoint.http.post(f"{endpoint.url}/run", json={"input": "c"}) as response:
        queued = (await response.json())["id"]
    while endpoint.board.store.queued < 2:  # the /runsync request has not arrived yet
        await asyncio.sleep(0.01)
    # The runpod SDK's own call: POST {endpoint_url_base}/<endpoint id>/purge-queue.
    monkeypatch.setattr(runpod, "endpoint_url_base", f"{endpoint.url}/v2")
    sdk_endpoint = AsyncEndpoint("any-id", endpoint.http, api_key="k")
    assert await sdk_endpoint.purge_queue() == {"removed": 2, "status": "completed"}
    async with await asyncio.wait_for(waiter, 5) as response:
        purged = await response.json()
    assert purged["status"] == "CANCELLED"  # the /runsync ends at once, with the job's status
    assert endpoint.board.get(queued).status == "CANCELLED"
    assert endpoint.board.get(running).status == "IN_PROGRESS"
    assert await AsyncJob("any-id", queued, endpoint.http, {}).status() == "CANCELLED"
    async with endpoint.http.post(f"{endpoint.url}/purge-queue") as response:
        assert await response.json() == {"removed": 0, "status": "completed"}
    await endpoint.post("job-done", running, {"output": "a"})  # the running job finishes
    assert endpoint.board.get(running).status == "COMPLETED"


# --- Anthropic's Messages API through /openai/v1 -------------------------------------------
MESSAGE = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
MESSAGE_START = 'event: message_start\ndata: ' + json.dumps({"type": "message_start", "message": {
    "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m",
    "stop_reason": None, "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 0}}}) + "\n\n"


def anthropic_client(endpoint: Endpoint) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=f"{endpoint.url}/v2/x/openai", api_key="k",
                                    max_retries=0)


@pytest.mark.parametrize("job_error, error_class, status, kind", [
    (ImageError("image data is not valid base64", param="messages[0].content[0].source")
     .to_job_error("anthropic"), anthropic.BadRequestError, 400, "invalid_request_error"),
    (json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
     anthropic.ServiceUnavailableError, 503, "overloaded_error"),
    (json.dumps({"type": "error", "error": {"type": "new_kind", "message": "?"}}),
     anthropic.InternalServerError, 500, "new_kind"),
    ("handler: boom \ntraceback: File ...", anthropic.InternalServerError, 500, "api_error"),
    (WorkerError("too slow", status=504).to_job_error(), anthropic.GatewayTimeoutError, 504,
     "api_error"),
])
async def test_anthropic_failure_is_an_anthropic_error_the_sdk_raises(
        endpoint, job_error, error_class, status, kind):
    client = anthropic_client(endpoint)

    async def worker() -> None:
        job = await endpoint.take()
        assert job["input"] == {"openai_route": "/v1/messages", "openai_input": MESSAGE}
        await endpoint.post("job-done", job["id"], {"error": job_error})

    task = asyncio.create_task(worker())
    with pytest.raises(error_class) as raised:
        await client.messages.create(**MESSAGE)
    await task
    assert raised.value.status_code == status
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == kind
    await client.close()


async def test_anthropic_routes_cancelled_job_is_a_409_in_anthropics_shape(endpoint):
    client = anthropic_client(endpoint)
    request = asyncio.create_task(client.messages.count_tokens(
        model="m", messages=MESSAGE["messages"]))
    job = await endpoint.take()
    assert job["input"]["openai_route"] == "/v1/messages/count_tokens"
    endpoint.board.cancel(job["id"])
    with pytest.raises(anthropic.ConflictError) as raised:
        await request
    assert raised.value.body == {"type": "error", "error": {
        "type": "invalid_request_error", "message": f"job {job['id']} was cancelled"}}
    await client.close()


async def test_anthropic_routes_body_errors_are_in_anthropics_shape(endpoint):
    url = f"{endpoint.url}/openai/v1/messages"
    async with endpoint.http.post(url, data=b"{") as response:
        body = await response.json()
    assert response.status == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in body["error"]["message"]
    client = anthropic_client(endpoint)
    with pytest.raises(anthropic.ContentTooLargeError) as raised:
        await client.messages.create(**{**MESSAGE, "system": "A" * 20_100_000})
    assert raised.value.body["error"]["type"] == "request_too_large"
    assert "20 MB limit" in raised.value.body["error"]["message"]
    await client.close()
    # The same mistakes on an OpenAI route keep OpenAI's shape.
    async with endpoint.http.post(f"{endpoint.url}/openai/v1/responses", data=b"{") as response:
        assert response.status == 400 and (await response.json())["error"]["code"] == 400


async def test_an_anthropic_stream_cut_short_ends_with_anthropics_error_event(endpoint):
    client = anthropic_client(endpoint)

    async def consume() -> list[str]:
        stream = await client.messages.create(**MESSAGE, stream=True)
        return [event.type async for event in stream]

    consumer = asyncio.create_task(consume())
    job = await endpoint.take()
    await endpoint.post("job-stream", job["id"], {"output": MESSAGE_START})
    await endpoint.post("job-done", job["id"], {
        "error": WorkerError("the engine died", status=503).to_job_error()})
    with pytest.raises(anthropic.APIStatusError) as raised:
        await consumer
    assert raised.value.body == {"type": "error", "error": {
        "type": "overloaded_error", "message": "the engine died"}}
    await client.close()


async def test_an_anthropic_stream_with_the_workers_own_error_gets_no_second_one(endpoint):
    request = asyncio.create_task(endpoint.http.post(
        f"{endpoint.url}/openai/v1/messages", json={**MESSAGE, "stream": True}))
    job = await endpoint.take()
    in_band = sse_error_event(ImageError("bad"), "anthropic")
    await endpoint.post("job-stream", job["id"], {"output": MESSAGE_START})
    await endpoint.post("job-stream", job["id"], {"output": in_band})
    await endpoint.post("job-done", job["id"], {
        "error": ImageError("bad").to_job_error("anthropic")})
    async with await request as response:
        assert await response.content.read() == (MESSAGE_START + in_band).encode()
