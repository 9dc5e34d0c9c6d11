"""OpenAI's Responses API and Anthropic's Messages API as RunPod jobs, on the real SGLang
server; and the request hygiene of issue 13 where it meets the engine."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from sglang_worker.jobs import make_worker
from tests.support import image_corpus as corpus
from tests.support.image_server import ConnectionCounter

pytestmark = pytest.mark.integration


def png_b64() -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((96, 64)).convert("RGB").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


async def run(worker, route: str, body: dict) -> list:
    job = {"id": "api", "input": {"openai_route": route, "openai_input": body}}
    return [out async for out in worker.handle(job)]


def error_of(outputs: list) -> dict:
    assert set(outputs[-1]) == {"error"}, outputs
    return json.loads(outputs[-1]["error"])


async def test_a_responses_job_with_an_image_reaches_the_model(worker):
    body = {"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{png_b64()}"}]}],
        "max_output_tokens": 4}
    (response,) = await run(worker, "/v1/responses", body)
    assert response["object"] == "response"
    assert response["status"] in ("completed", "incomplete")  # incomplete: max_output_tokens
    without = await run(worker, "/v1/responses", {**body, "input": "What is this?"})
    assert response["usage"]["input_tokens"] > without[0]["usage"]["input_tokens"] + 4


async def test_a_streamed_responses_job_yields_its_events(worker):
    outputs = await run(worker, "/v1/responses", {"input": "Count.", "max_output_tokens": 8,
                                                  "stream": True})
    text = "".join(outputs)
    assert "event: response.created" in text and "event: response.output_text.delta" in text
    assert "event: response.completed" in text or "event: response.incomplete" in text


async def test_a_messages_job_with_an_image_and_its_stream(worker):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": png_b64()}}
    body = {"max_tokens": 4, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, image]}]}
    (message,) = await run(worker, "/v1/messages", body)
    assert message["type"] == "message" and message["usage"]["input_tokens"] > 20
    streamed = "".join(await run(worker, "/v1/messages", {**body, "stream": True}))
    assert "event: message_start" in streamed and "event: message_stop" in streamed


async def test_a_failed_messages_job_answers_in_anthropics_shape(worker):
    bad = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                       "data": base64.b64encode(b"%PDF-1.7").decode()}}
    error = error_of(await run(worker, "/v1/messages", {"max_tokens": 4, "messages": [
        {"role": "user", "content": [bad]}]}))
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("messages[0].content[0].source: ")
    document = {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}
    error = error_of(await run(worker, "/v1/messages", {"max_tokens": 4, "messages": [
        {"role": "user", "content": [document]}]}))
    assert "content block type 'document' is not supported" in error["error"]["message"]


async def test_hostile_image_urls_on_both_apis_make_no_connection(settings, engine_info,
                                                                  engine):
    guarded = make_worker(settings.model_copy(update={"image_allow_private_urls": False}),
                          engine_info, engine)
    try:
        async with ConnectionCounter() as listener:
            url = f"http://127.0.0.1:{listener.port}/x.png"
            responses = error_of(await run(guarded, "/v1/responses", {"input": [
                {"role": "user", "content": [{"type": "input_image", "image_url": url}]}]}))
            messages = error_of(await run(guarded, "/v1/messages", {"max_tokens": 4, "messages": [
                {"role": "user", "content": [{"type": "image", "source": {
                    "type": "url", "url": url}}]}]}))
            assert listener.connections == 0
        assert responses["error"]["param"] == "input[0].content[0]"
        assert messages["error"]["message"].startswith("messages[0].content[0].source: ")
    finally:
        await guarded.close()


async def test_n_over_the_limit_is_refused_before_the_engine(worker):
    error = error_of(await run(worker, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "hi"}], "n": 100000}))["error"]
    assert (error["code"], error["param"]) == (400, "n")
    assert "MAX_N" in error["message"]


async def test_request_level_sizing_knobs_are_dropped_and_the_request_served(worker):
    (response,) = await run(worker, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2,
        "max_dynamic_patch": 10**6, "min_dynamic_patch": 10**5})
    assert response["object"] == "chat.completion"


async def test_tiff_is_refused_by_default_and_served_when_allowed(settings, engine_info, engine,
                                                                 worker):
    tiff = corpus.encode(corpus.picture((120, 90)), "TIFF")
    body = {"max_tokens": 2, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {
            "url": "data:image/tiff;base64," + base64.b64encode(tiff).decode()}}]}]}
    default = make_worker(settings.model_copy(update={"image_allow_tiff": False}), engine_info,
                          engine)
    try:
        error = error_of(await run(default, "/v1/chat/completions", body))["error"]
    finally:
        await default.close()
    assert "IMAGE_ALLOW_TIFF is off" in error["message"]
    (response,) = await run(worker, "/v1/chat/completions", body)  # the session allows TIFF
    assert response["usage"]["prompt_tokens_details"]["image_tokens"] > 0
