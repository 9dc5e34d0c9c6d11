"""The error wire format and the output contract."""

import json

import pytest

from sglang_worker.errors import (
    EngineRequestError,
    EngineUnavailable,
    ImageError,
    engine_error_from_body,
    sse_error_event,
)
from sglang_worker.jobs.output import job_error
from sglang_worker.pipeline.stream import chunk_objects, sse_text


def test_job_error_is_a_json_string_of_the_openai_error_body():
    error = ImageError("not a supported image: detected PDF", param="messages[0].content[1]")
    value = job_error(error)["error"]
    assert isinstance(value, str)
    assert json.loads(value) == {"error": {
        "message": "not a supported image: detected PDF", "type": "invalid_request_error",
        "param": "messages[0].content[1]", "code": 400}}


def test_sglang_400_passes_its_message_through():
    body = (b'{"object":"error","message":"Requested token count exceeds the model\'s maximum '
            b'context length of 4096 tokens.","type":"BadRequestError","param":null,"code":400}')
    error = engine_error_from_body(400, body)
    assert isinstance(error, EngineRequestError)
    assert error.message.startswith("Requested token count exceeds")
    assert error.to_body()["error"]["type"] == "invalid_request_error"
    assert error.status == 400


@pytest.mark.parametrize("status, body, expected", [
    (422, b'{"detail":[{"msg":"field required"}]}', '[{"msg": "field required"}]'),
    (404, b"Not Found", "Not Found"),
    (405, b"", "engine returned HTTP 405"),
    (400, b'{"error":{"message":"openai style","type":"x"}}', "openai style"),
])
def test_other_engine_error_bodies(status, body, expected):
    error = engine_error_from_body(status, body)
    assert error.message == expected and error.status == status


def test_engine_5xx_is_unavailable():
    error = engine_error_from_body(500, b'{"message":"boom"}')
    assert isinstance(error, EngineUnavailable) and "boom" in error.message


def test_sse_outputs():
    events = [b'data: {"a":1}\n\n', b"data: [DONE]\n\n"]
    assert sse_text(events) == 'data: {"a":1}\n\ndata: [DONE]\n\n'
    assert chunk_objects(events) == [{"a": 1}]
    text = sse_error_event(EngineUnavailable("gone"))
    assert text.startswith("data: ") and text.endswith("\n\n")
    assert json.loads(text[6:])["error"]["code"] == 503


def test_engine_bodies_are_encoded_once_and_any_json_goes_through():
    import json as std_json

    from sglang_worker.engine.client import encode_json

    body = {"messages": [{"role": "user", "content": "café ☕"}], "seed": 10**30, "x": 1.5}
    assert std_json.loads(encode_json(body)) == body  # a 100-bit int falls back, still exact
    small = {"a": [1, "ü"]}
    assert isinstance(encode_json(small), bytes) and std_json.loads(encode_json(small)) == small
