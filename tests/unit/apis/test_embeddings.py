"""Issue 18: the images of multimodal embedding inputs are found, named and put back; video and
raw embeddings are refused; text embeddings work as before."""

from __future__ import annotations

import copy

import pytest

from sglang_worker.apis import api_for
from sglang_worker.errors import ImageError, InvalidRequest
from sglang_worker.pipeline.request import validate_body

ROUTE = "/v1/embeddings"
API = api_for(ROUTE)


def validate(body: dict) -> dict:
    return validate_body(ROUTE, body, served_model="m", vocab_size=100)


@pytest.mark.parametrize("text_input", ["hello", ["a", "b"], [1, 2, 3], [[1, 2], [3]]])
def test_text_and_token_inputs_pass_as_before(text_input):
    assert validate({"input": text_input}) == {"input": text_input, "model": "m"}
    assert API.count_images({"input": text_input}) == 0


def test_images_of_multimodal_inputs_are_found_in_order_and_put_back():
    body = {"input": [{"text": "a cat", "image": "http://a/1.png"}, {"text": "just text"},
                      {"image": "data:image/png;base64,AAAA"}], "model": "m"}
    original = copy.deepcopy(body)
    assert validate(body) == body
    parts = API.images(body)
    assert [(p.param, p.source) for p in parts] == [
        ("input[0].image", "http://a/1.png"), ("input[2].image", "data:image/png;base64,AAAA")]
    assert API.count_images(body) == 2
    new = API.with_images(body, {p.location: f"data:image/png;base64,N{i}"
                                 for i, p in enumerate(parts)})
    assert body == original
    assert new["input"] == [{"text": "a cat", "image": "data:image/png;base64,N0"},
                            {"text": "just text"}, {"image": "data:image/png;base64,N1"}]
    assert new["input"][1] is body["input"][1]


@pytest.mark.parametrize("video", ["http://169.254.169.254/latest/meta-data/",
                                   "file:///etc/hostname", "/etc/hostname",
                                   "data:video/mp4;base64,AAAA"])
def test_any_video_is_refused_naming_the_part(video):
    with pytest.raises(InvalidRequest) as info:
        validate({"input": [{"text": "x"}, {"text": "clip", "video": video}]})
    assert info.value.param == "input[1].video"
    assert "video is not supported by this worker yet" in info.value.message


@pytest.mark.parametrize(("body", "param"), [
    ({"input": []}, "input"),
    ({"input": ""}, "input"),
    ({"input": [{}]}, "input[0]"),
    ({"input": [{"text": None, "image": None}]}, "input[0]"),
    ({"input": [-1]}, "input"),
    ({"input": [100]}, "input"),
    ({"input": "x", "embed_overrides": [[[0.0]]]}, "embed_overrides"),
    ({"input": "x", "embed_override_token_id": 3}, "embed_override_token_id"),
    ({"input": "x", "lora_path": "/etc"}, "lora_path"),
])
def test_bad_embeddings_bodies_are_refused_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as info:
        validate(body)
    assert info.value.param == param


@pytest.mark.parametrize("image", [5, "", "   ", {"url": "http://a"}])
def test_an_image_that_is_not_a_string_names_its_part(image):
    with pytest.raises(ImageError) as info:
        API.images({"input": [{"image": image}]})
    assert info.value.param == "input[0].image"
