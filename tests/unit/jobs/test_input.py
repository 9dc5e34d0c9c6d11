"""Job shapes -> EngineRequest: the accepted shapes, the route allowlist and refusals."""

import pytest

from sglang_worker.errors import InvalidRequest, RouteNotAllowed
from sglang_worker.jobs.input import job_shape, parse_job_input

MODEL = "served-model"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def parse(job_input):
    return parse_job_input(job_input, served_model=MODEL)


def test_openai_route_chat_is_a_post_with_the_model_filled():
    req = parse({"openai_route": "/v1/chat/completions", "openai_input": {**CHAT, "stream": True}})
    assert (req.route, req.method, req.stream) == ("/v1/chat/completions", "POST", True)
    assert job_shape({"openai_route": "/v1/chat/completions", "openai_input": CHAT}).openai
    assert req.body["model"] == MODEL
    assert req.body["messages"] == CHAT["messages"]


def test_openai_route_keeps_a_given_model_and_every_other_field():
    body = {**CHAT, "model": "mine", "tools": [{"type": "function"}], "logprobs": True,
            "response_format": {"type": "json_object"}}
    req = parse({"openai_route": "/v1/chat/completions", "openai_input": body})
    assert req.body == body


@pytest.mark.parametrize("openai_input", [None, {}, "absent"])
def test_models_route_is_a_get_whatever_the_input(openai_input):
    job = {"openai_route": "/v1/models"}
    if openai_input != "absent":
        job["openai_input"] = openai_input
    req = parse(job)
    assert (req.method, req.body, req.stream) == ("GET", None, False)


@pytest.mark.parametrize("route", ["v1/models", "/v1/models/", "/openai/v1/models",
                                   "/v1/models?x=1"])
def test_route_spellings_are_normalised(route):
    assert parse({"openai_route": route}).route == "/v1/models"


ADMIN_ROUTES = ["/shutdown", "/flush_cache", "/update_weights_from_disk", "/abort_request",
                "/update_weights_from_tensor", "/start_profile", "/server_info", "/v1/files"]


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_admin_and_unknown_routes_are_refused(route):
    with pytest.raises(RouteNotAllowed) as info:
        parse({"openai_route": route, "openai_input": {"x": 1}})
    assert info.value.status == 404
    assert "not served by this worker" in info.value.message


@pytest.mark.parametrize("part_type", ["file", "input_file", None])
def test_media_the_worker_does_not_vet_is_refused(part_type):
    content = [{"type": "text", "text": "hi"}, {"type": part_type, part_type or "x": "http://x"}]
    with pytest.raises(InvalidRequest) as info:
        parse({"messages": [{"role": "user", "content": content}]})
    assert info.value.param == "messages[0].content[1]"
    assert ("is not supported by this worker (supported: audio_url, image, image_url, "
            "input_audio, text, video_url)") in info.value.message


@pytest.mark.parametrize("job_input, field", [
    ({"text": ""}, "text"), ({"text": ["a", ""]}, "text"), ({"input_ids": []}, "input_ids"),
    ({"input_ids": [[1, 2], []]}, "input_ids"), ({"prompt": ""}, "prompt"),
    ({"prompt": []}, "prompt"), ({"prompt": ["x", ""]}, "prompt"), ({"prompt": [[]]}, "prompt"),
    ({"openai_route": "/v1/completions", "openai_input": {"prompt": ""}}, "prompt"),
])
def test_empty_prompts_are_refused_before_they_crash_the_engine(job_input, field):
    with pytest.raises(InvalidRequest) as info:
        parse(job_input)
    assert info.value.param == field
    assert "SGLang cannot generate from zero tokens" in info.value.message


@pytest.mark.parametrize("job_input, field", [
    ({"prompt": [1, 2, 512]}, "prompt"), ({"prompt": [[1], [-1]]}, "prompt"),
    ({"input_ids": [0, 1957068757]}, "input_ids"), ({"input_ids": [[3], [-5]]}, "input_ids"),
])
def test_token_ids_outside_the_vocabulary_are_refused(job_input, field):
    with pytest.raises(InvalidRequest) as info:
        parse_job_input(job_input, served_model="m", vocab_size=512)
    assert info.value.param == field and "outside the model's vocabulary (0 to 511)" in (
        info.value.message)
    request = parse_job_input({"prompt": [0, 511]}, served_model="m", vocab_size=512)
    assert (request.route, request.body["prompt"]) == ("/v1/completions", [0, 511])
    with pytest.raises(InvalidRequest, match="non-negative"):
        parse_job_input({"prompt": [-3]}, served_model="m")


@pytest.mark.parametrize("job_input", [
    {"prompt": [[False, 0.0], [6.36e16, False]]}, {"prompt": [1.5, 2]},
    {"input_ids": [True, 3]}, {"input_ids": [[1], [2.0]]},
])
def test_token_ids_must_be_integers_not_booleans_or_floats(job_input):
    with pytest.raises(InvalidRequest):
        parse_job_input(job_input, served_model="m", vocab_size=512)


def test_a_generate_body_needs_text_or_input_ids():
    with pytest.raises(InvalidRequest, match="give 'text' or 'input_ids'"):
        parse({"text": None, "sampling_params": {}})


def test_inference_route_without_input_is_refused():
    with pytest.raises(InvalidRequest, match="openai_input is required"):
        parse({"openai_route": "/v1/chat/completions", "openai_input": {}})


def test_direct_chat_body_merges_legacy_sampling_params_top_level_wins():
    job = {**CHAT, "max_tokens": 5, "sampling_params": {"max_tokens": 99, "temperature": 0}}
    req = parse(job)
    assert req.route == "/v1/chat/completions" and not job_shape(job).openai
    assert req.body["max_tokens"] == 5 and req.body["temperature"] == 0
    assert "sampling_params" not in req.body


def test_prompt_goes_to_completions():
    req = parse({"prompt": "Once", "stream": True})
    assert (req.route, req.stream, req.body["model"]) == ("/v1/completions", True, MODEL)


def test_native_generate_body_passes_untouched():
    body = {"text": "hi", "sampling_params": {"max_new_tokens": 4}, "image_data": "x"}
    req = parse(body)
    assert req.route == "/generate" and req.body == body and "model" not in req.body


@pytest.mark.parametrize("job_input, fragment", [
    ("just text", "must be a JSON object"),
    ([1, 2], "must be a JSON object"),
    ({"foo": 1}, "unrecognised job input (keys: foo)"),
    ({"messages": []}, "messages: List should have at least 1 item"),
    ({"messages": "hi"}, "messages:"),
    ({"messages": [{"content": "no role"}]}, "messages[0].role: Field required"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"prompt": {"a": 1}}, "prompt"),
    ({**CHAT, "sampling_params": [1]}, "sampling_params must be an object"),
    ({"openai_route": 7}, "openai_route must be a non-empty string"),
    ({"openai_route": "/v1/chat/completions", "openai_input": "hi"}, "must be a JSON object"),
])
def test_bad_inputs_say_what_to_fix(job_input, fragment):
    with pytest.raises(InvalidRequest) as info:
        parse(job_input)
    assert fragment in info.value.message
    assert type(info.value) is InvalidRequest and info.value.status == 400
