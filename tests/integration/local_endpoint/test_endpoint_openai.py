"""The local endpoint's OpenAI route, driven by the real ``openai`` SDK: the worker and its SGLang
server behind it are real (see conftest)."""

from __future__ import annotations

import asyncio
import base64
import io

import openai
import pytest
from PIL import Image

pytestmark = pytest.mark.integration


def jpeg_data_url(size=(96, 64)) -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_chat(*extra_parts: dict) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": jpeg_data_url()}}, *extra_parts]}]


@pytest.fixture
async def client(local_endpoint):
    client = openai.AsyncOpenAI(base_url=local_endpoint.openai_base_url, api_key="local",
                                max_retries=0, timeout=120)
    yield client
    await client.close()


@pytest.fixture
async def model(client) -> str:
    return (await client.models.list()).data[0].id


async def test_models_list(client, tiny_vl_model):
    models = (await client.models.list()).data
    assert [m.id for m in models] == [str(tiny_vl_model)]


async def test_v2_prefix_serves_the_same_route(local_endpoint, tiny_vl_model):
    async with openai.AsyncOpenAI(base_url=f"{local_endpoint.url}/v2/my-endpoint/openai/v1",
                                  api_key="local", max_retries=0) as client:
        assert (await client.models.list()).data[0].id == str(tiny_vl_model)


async def test_chat_with_an_image_not_streaming(client, model):
    response = await client.chat.completions.create(model=model, messages=image_chat(),
                                                    max_tokens=8, temperature=0)
    assert response.object == "chat.completion"
    assert response.choices[0].finish_reason in ("stop", "length")
    assert response.usage.prompt_tokens_details.image_tokens > 0


async def test_chat_with_an_image_streaming(client, model):
    stream = await client.chat.completions.create(
        model=model, messages=image_chat(), max_tokens=8, temperature=0, stream=True,
        stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert chunks[-1].usage.prompt_tokens_details.image_tokens > 0


async def test_the_stream_arrives_while_the_engine_is_still_generating(
    client, model, local_endpoint
):
    # Long enough that no machine finishes it between the first chunk and the load check:
    # 200 tokens once did, on a slow CI machine.
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Count."}], max_tokens=1500,
        temperature=0, stream=True, extra_body={"ignore_eos": True})
    first = await anext(aiter(stream))
    assert first.choices[0].delta.role == "assistant"
    assert await asyncio.to_thread(local_endpoint.engine_requests) >= 1
    rest = [chunk async for chunk in stream]
    assert len(rest) > 10 and rest[-1].choices[0].finish_reason == "length"


async def test_completions_echo_their_prompt(client, model):
    response = await client.completions.create(model=model, prompt="The local endpoint says",
                                               max_tokens=4, echo=True, temperature=0)
    assert response.object == "text_completion"
    assert response.choices[0].text.startswith("The local endpoint says")


@pytest.mark.parametrize("url, fragment", [
    ("data:image/png;base64,iVBOR%%%!!", "image data is not valid base64"),
    ("data:image/png;base64," + base64.b64encode(b"%PDF-1.7\n%...").decode(), "detected PDF"),
], ids=["corrupt-base64", "pdf"])
async def test_a_bad_image_raises_bad_request_with_the_workers_message(client, model, url,
                                                                       fragment):
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model=model, messages=messages, stream=stream)
        assert raised.value.status_code == 400
        assert fragment in raised.value.body["message"]
        assert raised.value.body["param"] == "messages[0].content[0]"


async def test_sglangs_own_400_passes_through(client, model):
    with pytest.raises(openai.BadRequestError, match="maximum context length"):
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=100000)


async def test_an_unknown_route_is_not_found(client):
    with pytest.raises(openai.NotFoundError, match="is not served by this worker"):
        await client.post("/shutdown", body={"now": True}, cast_to=object)


async def test_a_request_over_20_mb_is_refused_with_413(client, model):
    big = "data:image/png;base64," + "A" * 20_100_000
    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.create(model=model, messages=image_chat(
            {"type": "image_url", "image_url": {"url": big}}))
    assert raised.value.status_code == 413
    assert "over the 20 MB limit" in raised.value.message
