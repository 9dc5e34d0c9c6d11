"""Load-balancing mode on the real SGLang server, driven by the official OpenAI SDK and plain
HTTP, as a user of a load-balancing endpoint calls it (see conftest: one worker process)."""

from __future__ import annotations

import asyncio
import base64
import io

import aiohttp
import anthropic
import openai
import pytest
from PIL import Image

from tests.support.engine_log import served_between
from tests.support.image_server import ConnectionCounter
from tests.support.raw_http import send_raw

pytestmark = pytest.mark.integration


def jpeg_data_url(size=(96, 64)) -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_chat(url: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


@pytest.fixture
async def client(lb_worker):
    client = openai.AsyncOpenAI(base_url=lb_worker.openai_base_url, api_key="unused",
                                max_retries=0, timeout=120)
    yield client
    await client.close()


@pytest.fixture
async def model(client) -> str:
    return (await client.models.list()).data[0].id


def test_ping_answered_204_while_starting_then_200(lb_worker):
    answered = [code for code in lb_worker.pings if code is not None]
    assert answered[-1] == 200
    assert answered.count(204) >= 1 and set(answered[:-1]) == {204}, answered


async def test_models_list(client, tiny_vl_model):
    assert [m.id for m in (await client.models.list()).data] == [str(tiny_vl_model)]


async def test_the_queue_endpoints_base_url_works_too(lb_worker, tiny_vl_model):
    async with openai.AsyncOpenAI(base_url=f"{lb_worker.url}/openai/v1", api_key="unused",
                                  max_retries=0) as client:
        assert (await client.models.list()).data[0].id == str(tiny_vl_model)


async def test_chat_with_a_base64_image_reaches_the_model(client, model):
    response = await client.chat.completions.create(
        model=model, messages=image_chat(jpeg_data_url()), max_tokens=8, temperature=0)
    assert response.object == "chat.completion"
    assert response.usage.prompt_tokens_details.image_tokens > 0


async def test_streaming_arrives_while_sglang_still_generates(client, model, lb_worker):
    # A generation far longer than the test reads, so the engine is surely still at work when
    # the first event arrives; closing the stream then aborts it.
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Count."}], max_tokens=3000,
        temperature=0, stream=True, extra_body={"ignore_eos": True})
    events = aiter(stream)
    first = await anext(events)
    assert first.choices[0].delta.role == "assistant"
    assert await asyncio.to_thread(lb_worker.engine_requests) >= 1
    more = [await anext(events) for _ in range(10)]
    assert all(chunk.choices[0].finish_reason is None for chunk in more)
    await stream.close()


async def test_a_streamed_image_chat_carries_usage(client, model):
    stream = await client.chat.completions.create(
        model=model, messages=image_chat(jpeg_data_url()), max_tokens=8, stream=True,
        stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage.prompt_tokens_details.image_tokens > 0


async def test_a_bad_image_is_a_bad_request_naming_the_part(client, model):
    bad = "data:image/png;base64," + base64.b64encode(b"%PDF-1.7\n%...").decode()
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model=model, messages=image_chat(bad),
                                                 stream=stream)
        assert "detected PDF" in raised.value.body["message"]
        assert raised.value.body["param"] == "messages[0].content[1]"


async def test_a_hostile_image_url_is_refused_with_zero_connections(client, model):
    async with ConnectionCounter() as listener:
        for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]"):
            with pytest.raises(openai.BadRequestError) as raised:
                await client.chat.completions.create(
                    model=model, messages=image_chat(f"http://{host}:{listener.port}/x.png"))
            assert raised.value.body["param"] == "messages[0].content[1]"
        assert listener.connections == 0


def test_admin_routes_are_404_and_never_reach_sglang(lb_worker):
    assert send_raw(lb_worker.url, "GET", "/v1/models")[0] == 200
    for method in ("GET", "POST"):
        for target in ("/flush_cache", "/server_info", "/get_server_info",
                       "/release_memory_occupation", "/openai/flush_cache", "/shutdown"):
            status, body = send_raw(lb_worker.url, method, target)
            assert status == 404 and body["error"]["type"] == "not_found_error", (target, body)
        for target in ("/v1/models/../../flush_cache", "/v1/models/%2e%2e/%2e%2e/flush_cache"):
            status, body = send_raw(lb_worker.url, method, target)
            assert status == 400 and "is not a valid route" in body["error"]["message"]
    status, body = send_raw(lb_worker.url, "GET", "/v1/models/tiny-org/qwen2-vl")
    assert status == 404 and "does not exist" in body["error"]["message"]  # not served here
    assert send_raw(lb_worker.url, "GET", "/model_info")[0] == 200
    assert served_between(lambda: lb_worker.log().splitlines(), "/v1/models",
                          "/model_info") == []


async def test_a_client_that_disconnects_mid_stream_aborts_the_engine_request(lb_worker):
    before = await asyncio.to_thread(lb_worker.engine_requests)
    body = {"messages": [{"role": "user", "content": "Count."}], "max_tokens": 3000,
            "ignore_eos": True, "stream": True}
    async with aiohttp.ClientSession() as http_session, http_session.post(
            f"{lb_worker.url}/v1/chat/completions", json=body) as response:
        assert response.status == 200
        await response.content.readuntil(b"\n\n")
        assert await asyncio.to_thread(lb_worker.engine_requests) == before + 1
    for _ in range(150):
        if await asyncio.to_thread(lb_worker.engine_requests) == before:
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(lb_worker.engine_requests) == before


async def test_a_body_over_the_limit_is_a_413(client, model):
    big = "data:image/png;base64," + "A" * 30_100_000
    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.create(model=model, messages=image_chat(big))
    assert raised.value.status_code == 413
    assert "over the 30 MB limit" in raised.value.message


async def test_a_wrong_method_is_a_405(lb_worker):
    status, body = await asyncio.to_thread(send_raw, lb_worker.url, "GET",
                                           "/v1/chat/completions")
    assert status == 405 and "takes POST" in body["error"]["message"]


async def test_responses_and_messages_with_images_and_hostile_urls(lb_worker, model):
    """Both newer APIs through lb mode with the official SDKs: a base64 image reaches the
    model, and a loopback image URL is refused with zero connections."""
    image = jpeg_data_url()
    data = image.split(",", 1)[1]
    async with openai.AsyncOpenAI(base_url=lb_worker.openai_base_url, api_key="unused",
                                  max_retries=0) as oai, anthropic.AsyncAnthropic(
            base_url=lb_worker.url, api_key="unused", max_retries=0) as claude:
        response = await oai.responses.create(model=model, max_output_tokens=4, input=[
            {"role": "user", "content": [{"type": "input_image", "image_url": image}]}])
        assert response.status in ("completed", "incomplete") and response.usage.input_tokens > 10
        message = await claude.messages.create(model=model, max_tokens=4, messages=[
            {"role": "user", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": "image/jpeg", "data": data}}]}])
        assert message.usage.input_tokens > 10
        async with ConnectionCounter() as listener:
            hostile = f"http://127.0.0.1:{listener.port}/x.png"
            with pytest.raises(openai.BadRequestError):
                await oai.responses.create(model=model, input=[{"role": "user", "content": [
                    {"type": "input_image", "image_url": hostile}]}])
            with pytest.raises(anthropic.BadRequestError) as raised:
                await claude.messages.create(model=model, max_tokens=4, messages=[
                    {"role": "user", "content": [{"type": "image", "source": {
                        "type": "url", "url": hostile}}]}])
            assert raised.value.body["error"]["type"] == "invalid_request_error"
            assert listener.connections == 0


async def test_models_retrieve_answers_for_an_absolute_path_id(client, model, lb_worker):
    """SGLang's own ``test_retrieve_model`` sends the id unencoded; the SDK encodes it. Both
    answer for a model served under its absolute path (issue 18)."""
    assert model.startswith("/")
    assert (await client.models.retrieve(model)).id == model
    status, body = send_raw(lb_worker.url, "GET", "/v1/models/" + model)
    assert status == 200 and body["id"] == model, body
