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
    assert API.count("image", {"input": text_input}) == 0


def test_images_of_multimodal_inputs_are_found_in_order_and_put_back():
    body = {"input": [{"text": "a cat", "image": "http://a/1.png"}, {"text": "just text"},
                      {"image": "data:image/png;base64,AAAA"}], "model": "m"}
    original = copy.deepcopy(body)
    assert validate(body) == body
    parts = API.parts("image", body)
    assert [(p.param, p.source) for p in parts] == [
        ("input[0].image", "http://a/1.png"), ("input[2].image", "data:image/png;base64,AAAA")]
    assert API.count("image", body) == 2
    new = API.with_prepared("image", body, {p.location: f"data:image/png;base64,N{i}"
                                 for i, p in enumerate(parts)})
    assert body == original
    assert new["input"] == [{"text": "a cat", "image": "data:image/png;base64,N0"},
                            {"text": "just text"}, {"image": "data:image/png;base64,N1"}]
    assert new["input"][1] is body["input"][1]


def test_a_video_input_is_a_video_part_named_for_its_place():
    body = {"input": [{"text": "x"}, {"text": "clip", "video": "https://example.com/v.mp4"}]}
    validate(body)
    (part,) = API.parts("video", body)
    assert (part.param, part.source) == ("input[1].video", "https://example.com/v.mp4")
    new = API.with_prepared("video", body, {part.location: "data:video/mp4;base64,AA"})
    assert new["input"][1] == {
        "text": "clip", "video": "data:video/mp4;base64,AA"}


@pytest.mark.parametrize(("body", "param"), [
    ({"input": []}, "input"),
    ({"input": ""}, "input"),
    ({"input": [{}]}, "input[0]"),
    ({"input": [{"text": None, "image": None}]}, "input[0]"),
    ({"input": [-1]}, "input"),
    ({"input": [100]}, "input"),
    ({"input": "x", "embed_overrides": [[[0.0]]]}, "embed_overrides"),
    ({"input": "x", "embed_override_token_id": 3}, "embed_override_token_id"),
    ({"input": "x", "lora_id": "/etc"}, "lora_id"),
])
def test_bad_embeddings_bodies_are_refused_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as info:
        validate(body)
    assert info.value.param == param


@pytest.mark.parametrize("image", [5, "", "   ", {"url": "http://a"}])
def test_an_image_that_is_not_a_string_names_its_part(image):
    with pytest.raises(ImageError) as info:
        API.parts("image", {"input": [{"image": image}]})
    assert info.value.param == "input[0].image"
