"""Finding image parts in request bodies and writing replacements back, without I/O."""

from __future__ import annotations

import copy

import pytest

from sglang_worker.errors import ImageError
from sglang_worker.images.parts import count_image_parts, find_image_parts, replace_image_parts

CHAT = "/v1/chat/completions"
GENERATE = "/generate"


def chat_body() -> dict:
    return {
        "model": "m",
        "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "messages": [
            {"role": "system", "content": "plain string content is never touched"},
            {"role": "user", "content": [
                {"type": "text", "text": "first"},
                {"type": "image_url", "image_url": {"url": "http://a/1.png", "detail": "low"}},
                {"type": "text", "text": "between"},
                {"type": "image_url", "image_url": "http://a/2.png"},
            ]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [
                {"type": "image", "image": "http://a/3.png", "max_pixels": 1000},
                {"type": "text", "text": "last"},
            ]},
        ],
    }


def test_all_three_chat_shapes_are_found_in_order_with_their_params() -> None:
    parts = find_image_parts(CHAT, chat_body())
    assert [(p.param, p.source) for p in parts] == [
        ("messages[1].content[1]", "http://a/1.png"),
        ("messages[1].content[3]", "http://a/2.png"),
        ("messages[3].content[0]", "http://a/3.png"),
    ]
    assert count_image_parts(CHAT, chat_body()) == 3


def test_replacement_rewrites_only_image_parts_and_never_mutates_the_input() -> None:
    body = chat_body()
    original = copy.deepcopy(body)
    parts = find_image_parts(CHAT, body)
    urls = {p.location: f"data:image/png;base64,NEW{i}" for i, p in enumerate(parts)}

    new = replace_image_parts(CHAT, body, urls)

    assert body == original
    assert new["messages"][1]["content"] == [
        {"type": "text", "text": "first"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,NEW0", "detail": "low"}},
        {"type": "text", "text": "between"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,NEW1"}},
    ]
    # The Qwen-style part becomes an image_url part; its extra keys are kept.
    assert new["messages"][3]["content"][0] == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,NEW2"},
        "max_pixels": 1000,
    }
    # Everything else is the very same object: nothing copied that did not change.
    assert new["messages"][0] is body["messages"][0]
    assert new["messages"][1]["content"][0] is body["messages"][1]["content"][0]
    assert new["tools"] is body["tools"]
    assert {k: v for k, v in new.items() if k != "messages"} == {
        k: v for k, v in original.items() if k != "messages"}


@pytest.mark.parametrize(("part", "shape"), [
    ({"type": "image_url"}, "missing"),
    ({"type": "image_url", "image_url": {"detail": "low"}}, "no url"),
    ({"type": "image_url", "image_url": {"url": 5}}, "url not a string"),
    ({"type": "image_url", "image_url": "   "}, "blank"),
    ({"type": "image", "image": None}, "none"),
    ({"type": "image", "image": {"url": "http://a"}}, "dict"),
])
def test_malformed_image_parts_are_refused_naming_the_part(part: dict, shape: str) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, part]}]}
    with pytest.raises(ImageError) as caught:
        find_image_parts(CHAT, body)
    assert caught.value.param == "messages[0].content[1]", shape
    assert "image_url" in caught.value.message
    assert count_image_parts(CHAT, body) == 1  # counting never raises


@pytest.mark.parametrize(("image_data", "params"), [
    ("http://a/1.png", ["image_data"]),
    (["http://a/1.png", "http://a/2.png"], ["image_data[0]", "image_data[1]"]),
    ([["http://a/1.png"], ["http://a/2.png", "http://a/3.png"]],
     ["image_data[0][0]", "image_data[1][0]", "image_data[1][1]"]),
    (None, []),
    ([], []),
])
def test_generate_image_data_shapes(image_data, params: list[str]) -> None:
    body = {"text": "hi", "image_data": image_data, "sampling_params": {"max_new_tokens": 4}}
    original = copy.deepcopy(body)
    parts = find_image_parts(GENERATE, body)
    assert [p.param for p in parts] == params
    assert count_image_parts(GENERATE, body) == len(params)

    new = replace_image_parts(GENERATE, body, {p.location: f"new:{p.param}" for p in parts})

    assert body == original
    if not params:
        assert new is body
        return
    flat = new["image_data"] if isinstance(new["image_data"], list) else [new["image_data"]]
    flat = [x for item in flat for x in (item if isinstance(item, list) else [item])]
    assert flat == [f"new:{p}" for p in params]
    assert new["sampling_params"] is body["sampling_params"]


@pytest.mark.parametrize(("image_data", "param"), [
    ([{"url": "http://a/1.png"}], "image_data[0]"),
    (["http://a/1.png", None], "image_data[1]"),
    ([["http://a/1.png", 3]], "image_data[0][1]"),
    (42, "image_data"),
])
def test_generate_entries_other_than_strings_are_refused(image_data, param: str) -> None:
    # SGLang would load such an entry itself, past every check of the worker.
    with pytest.raises(ImageError) as caught:
        find_image_parts(GENERATE, {"text": "x", "image_data": image_data})
    assert caught.value.param == param


def test_other_routes_and_odd_bodies_carry_no_images() -> None:
    body = chat_body()
    assert find_image_parts("/v1/completions", body) == []
    assert count_image_parts("/v1/completions", body) == 0
    assert replace_image_parts(CHAT, body, {}) is body
    assert count_image_parts(CHAT, {"messages": "not a list"}) == 0
    assert count_image_parts(CHAT, None) == 0
    assert count_image_parts(CHAT, {"messages": [{"role": "user", "content": ["str part"]}]}) == 0
