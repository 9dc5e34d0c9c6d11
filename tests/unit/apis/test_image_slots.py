"""Each API module finds its image parts and writes the prepared images back, without I/O."""

from __future__ import annotations

import copy

import pytest

from sglang_worker.apis import api_for
from sglang_worker.errors import ImageError

CHAT = "/v1/chat/completions"
GENERATE = "/generate"


def find_image_parts(route: str, body: dict) -> list:
    return api_for(route).parts("image", body)


def count_image_parts(route: str, body) -> int:
    return api_for(route).count("image", body)


def replace_image_parts(route: str, body: dict, urls: dict) -> dict:
    return api_for(route).with_prepared("image", body, urls)


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
    # The Qwen-style part becomes an image_url part; its sizing knob (max_pixels) is dropped:
    # only url and detail reach SGLang (issue 13).
    assert new["messages"][3]["content"][0] == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,NEW2"},
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


KNOBS = {"max_pixels": 10**9, "min_pixels": 1, "max_dynamic_patch": 99, "min_dynamic_patch": 9,
         "max_long_side_pixel": 10**6, "unknown": "x"}


def test_sizing_knobs_on_an_image_part_never_reach_sglang() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://a/1.png", "detail": "high", **KNOBS},
         **KNOBS}]}]}
    new = replace_image_parts(CHAT, body, {("messages", 0, "content", 0):
                                           "data:image/png;base64,NEW"})
    assert new["messages"][0]["content"][0] == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,NEW", "detail": "high"}}


RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"


def responses_body() -> dict:
    return {"input": [
        {"role": "user", "content": [
            {"type": "input_text", "text": "what?"},
            {"type": "input_image", "image_url": "http://a/1.png", "detail": "low", **KNOBS},
            {"type": "input_image", "image_url": {"url": "http://a/2.png"}}]},
        {"type": "function_call_output", "call_id": "c", "output": "42"}]}


def test_responses_input_images_are_found_and_rewritten() -> None:
    body = responses_body()
    original = copy.deepcopy(body)
    parts = find_image_parts(RESPONSES, body)
    assert [(p.param, p.source, p.detail) for p in parts] == [
        ("input[0].content[1]", "http://a/1.png", "low"),
        ("input[0].content[2]", "http://a/2.png", None)]
    assert count_image_parts(RESPONSES, body) == 2
    new = replace_image_parts(RESPONSES, body, {p.location: f"data:image/png;base64,N{i}"
                                                for i, p in enumerate(parts)})
    assert body == original
    assert new["input"][0]["content"][1:] == [
        {"type": "input_image", "image_url": "data:image/png;base64,N0", "detail": "low"},
        {"type": "input_image", "image_url": "data:image/png;base64,N1"}]
    assert new["input"][1] is body["input"][1]


def test_a_responses_image_without_an_url_names_its_part() -> None:
    body = {"input": [{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}]}
    with pytest.raises(ImageError) as info:
        find_image_parts(RESPONSES, body)
    assert info.value.param == "input[0].content[0]"


def messages_body() -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "AAAA"}},
        {"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "text", "text": "shot"},
            {"type": "image", "source": {"type": "url", "url": "http://a/3.png"}}]}]}],
        "max_tokens": 8}


def test_anthropic_image_blocks_are_found_in_messages_and_tool_results() -> None:
    body = messages_body()
    original = copy.deepcopy(body)
    parts = find_image_parts(MESSAGES, body)
    assert [(p.param, p.source) for p in parts] == [
        ("messages[0].content[1].source", "AAAA"),
        ("messages[0].content[2].content[1].source", "http://a/3.png")]
    new = replace_image_parts(MESSAGES, body, {p.location: f"data:image/jpeg;base64,N{i}"
                                               for i, p in enumerate(parts)})
    assert body == original
    assert new["messages"][0]["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "N0"}}
    tool_result = new["messages"][0]["content"][2]
    assert tool_result["tool_use_id"] == "t"
    assert tool_result["content"][1]["source"] == {
        "type": "base64", "media_type": "image/jpeg", "data": "N1"}
    assert count_image_parts(MESSAGES, body) == 2


def test_an_anthropic_image_without_data_names_its_source() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}]}]}
    with pytest.raises(ImageError) as info:
        find_image_parts(MESSAGES, body)
    assert info.value.param == "messages[0].content[0].source"
