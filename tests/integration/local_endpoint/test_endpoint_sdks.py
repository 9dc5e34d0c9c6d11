"""OpenAI's Responses API and Anthropic's Messages API through the local endpoint, driven by
the official ``openai`` and ``anthropic`` SDKs, on the real SGLang server: images reach the
model (image tokens in the usage), streaming works, and errors raise each SDK's own classes.
(The local endpoint's worker may fetch loopback URLs, so the refusal of hostile URLs on these
APIs is tested in load-balancing mode and on jobs, where the SSRF guard is as deployed.)"""

from __future__ import annotations

import base64
import io

import anthropic
import openai
import pytest
from PIL import Image

from tests.support.image_server import ConnectionCounter, ImageServer
from tests.support.raw_http import send_raw

pytestmark = pytest.mark.integration


def png() -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((96, 64)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(png()).decode()


@pytest.fixture
async def oai(local_endpoint):
    async with openai.AsyncOpenAI(base_url=local_endpoint.openai_base_url, api_key="local",
                                  max_retries=0, timeout=120) as client:
        yield client


@pytest.fixture
async def claude(local_endpoint):
    # The Anthropic SDK appends /v1/messages: its base URL is the endpoint's /openai.
    async with anthropic.AsyncAnthropic(base_url=f"{local_endpoint.url}/openai",
                                        api_key="local", max_retries=0, timeout=120) as client:
        yield client


@pytest.fixture
async def model(oai) -> str:
    return (await oai.models.list()).data[0].id


def responses_input(url: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                         {"type": "input_image", "image_url": url}]}]


async def test_responses_create_with_an_image(oai, model):
    response = await oai.responses.create(model=model, input=responses_input(data_url()),
                                          max_output_tokens=8)
    assert response.status in ("completed", "incomplete")  # incomplete: max_output_tokens
    assert isinstance(response.output_text, str)
    assert response.usage.input_tokens > 20  # the image's tokens are in the prompt


async def test_responses_stream_with_an_image(oai, model):
    stream = await oai.responses.create(model=model, input=responses_input(data_url()),
                                        max_output_tokens=8, stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[0] == "response.created"
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert "response.output_text.delta" in kinds


async def test_responses_state_is_refused_with_the_reason(oai, model):
    with pytest.raises(openai.BadRequestError, match="stores no responses"):
        await oai.responses.create(model=model, input="hi", previous_response_id="resp_1")
    with pytest.raises(openai.NotFoundError, match="stores no responses"):
        await oai.responses.retrieve("resp_1")


async def test_a_file_id_image_is_refused_naming_the_part(oai, model):
    with pytest.raises(openai.BadRequestError) as raised:
        await oai.responses.create(model=model, input=[{"role": "user", "content": [
            {"type": "input_image", "file_id": "file-1", "detail": "auto"}]}])
    assert raised.value.body["param"] == "input[0].content[0]"
    assert "no file store" in raised.value.body["message"]


def anthropic_image(source: dict) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image", "source": source}]}]


async def test_messages_create_with_a_base64_image(claude, model):
    message = await claude.messages.create(
        model=model, max_tokens=8, messages=anthropic_image(
            {"type": "base64", "media_type": "image/png",
             "data": base64.b64encode(png()).decode()}))
    assert message.type == "message" and message.role == "assistant"
    assert message.usage.input_tokens > 20


async def test_messages_stream_with_an_image_by_url(claude, model):
    async with ImageServer() as images:
        url = images.serve("/photo.png", png())
        async with claude.messages.stream(
                model=model, max_tokens=8,
                messages=anthropic_image({"type": "url", "url": url})) as stream:
            text = "".join([chunk async for chunk in stream.text_stream])
            final = await stream.get_final_message()
        assert images.paths == ["/photo.png"]
    assert final.usage.input_tokens > 20 and isinstance(text, str)


async def test_messages_count_tokens(claude, model):
    counted = await claude.messages.count_tokens(
        model=model, messages=anthropic_image(
            {"type": "base64", "media_type": "image/png",
             "data": base64.b64encode(png()).decode()}))
    assert counted.input_tokens > 20


async def test_anthropic_errors_are_the_sdks_own_classes(claude, model):
    bad = {"type": "base64", "media_type": "image/png",
           "data": base64.b64encode(b"%PDF-1.7\n%...").decode()}
    with pytest.raises(anthropic.BadRequestError) as raised:
        await claude.messages.create(model=model, max_tokens=8, messages=anthropic_image(bad))
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "messages[0].content[1].source" in raised.value.body["error"]["message"]
    assert "detected PDF" in raised.value.body["error"]["message"]


async def test_hostile_image_urls_are_refused_on_both_apis_with_zero_connections(
    oai, claude, model
):
    """Under make serve the worker may fetch loopback http URLs (the emulator's opt-in), but
    never another scheme: a file or ftp URL is refused on both APIs, and the listener behind
    the ftp URL is never reached."""
    async with ConnectionCounter() as listener:
        for url in (f"ftp://127.0.0.1:{listener.port}/x.png", "file:///etc/passwd"):
            with pytest.raises(openai.BadRequestError) as raised:
                await oai.responses.create(model=model, input=responses_input(url))
            assert raised.value.body["param"] == "input[0].content[1]"
            with pytest.raises(anthropic.BadRequestError) as refused:
                await claude.messages.create(model=model, max_tokens=8, messages=anthropic_image(
                    {"type": "url", "url": url}))
            assert "messages[0].content[1].source" in refused.value.body["error"]["message"]
        assert listener.connections == 0


async def test_models_retrieve_answers_for_an_absolute_path_id(oai, model, local_endpoint):
    """A local model is served under its absolute path: the SDK sends the id encoded, SGLang's
    own tests send it as it is (``/v1/models//abs/path``); both answer (issue 18)."""
    assert model.startswith("/")
    assert (await oai.models.retrieve(model)).id == model
    status, body = send_raw(local_endpoint.url, "GET", "/openai/v1/models/" + model)
    assert status == 200 and body["id"] == model, body
