"""Every refusal of the API modules' content rules, as a table: media the worker does not vet,
references to stored state, and shapes it cannot read are each a 400 naming the part and saying
why (issue 19: no test failed when one of these refusals was removed)."""

from __future__ import annotations

import pytest

from sglang_worker.errors import InvalidRequest
from sglang_worker.pipeline.request import validate_body

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def chat(*parts) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, *parts]}]}


def responses(*parts, item: dict | None = None) -> dict:
    return {"input": [item or {"role": "user", "content": [
        {"type": "input_text", "text": "x"}, *parts]}]}


def messages(*blocks, **extra) -> dict:
    return {"max_tokens": 4, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, *blocks]}], **extra}


CASES = [
    # chat: only text, images, video and audio
    ("/v1/chat/completions", chat({"type": "file", "file": {"file_id": "f"}}),
     "messages[0].content[1]", "'file' is not supported"),
    ("/v1/chat/completions", chat({"type": "a_type_from_next_year"}),
     "messages[0].content[1]",
     "(supported: audio_url, image, image_url, input_audio, text, video_url)"),
    ("/v1/tokenize", chat({"type": "file", "file": {"file_id": "f"}}),
     "messages[0].content[1]", "'file' is not supported"),
    # Responses: no stored state, no files
    ("/v1/responses", responses(item={"type": "item_reference", "id": "msg_1"}), "input[0]",
     "input item type 'item_reference' is not supported"),
    ("/v1/responses", responses({"type": "input_file", "file_id": "f"}),
     "input[0].content[1]", "content part type 'input_file' is not supported"),
    ("/v1/responses", responses({"type": "input_image", "file_id": "f"}),
     "input[0].content[1]", "file_id images are not supported"),
    ("/v1/responses", responses("not an object"), "input[0].content[1]",
     "must be an object (a content part)"),
    ("/v1/responses", {"input": ["not an item"]}, "input",
     "input must be a string or a list of input items"),
    ("/v1/responses", {"input": "x", "store": True}, "store", "this worker stores no responses"),
    ("/v1/responses", {"input": "x", "background": True}, "background", "stream instead"),
    ("/v1/responses", {"input": "x", "previous_response_id": "resp_1"}, "previous_response_id",
     "send the earlier turns as input"),
    ("/v1/responses", {"input": "x", "conversation": "conv_1"}, "conversation",
     "stores no conversations"),
    # Anthropic Messages: no documents, no file sources, no server tools
    ("/v1/messages", messages({"type": "document", "source": {"type": "url", "url": "http://a"}}),
     "messages[0].content[1]", "content block type 'document' is not supported"),
    ("/v1/messages", messages({"type": "image", "source": {"type": "file", "file_id": "f"}}),
     "messages[0].content[1].source", "image source type 'file' is not supported"),
    ("/v1/messages", messages({"type": "tool_result", "tool_use_id": "t", "content": [
        {"type": "document", "source": {}}]}), "messages[0].content[1].content[0]",
     "tool_result block type 'document' is not supported"),
    ("/v1/messages", messages({"type": "tool_result", "tool_use_id": "t", "content": [
        {"type": "image", "source": {"type": "file"}}]}),
     "messages[0].content[1].content[0].source", "image source type 'file'"),
    ("/v1/messages", messages("not an object"), "messages[0].content",
     "messages[0].content must be a string or a list of content blocks"),
    ("/v1/messages", messages(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
     "tools[0]", "SGLang runs no Anthropic server tools"),
    ("/v1/messages/count_tokens", {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {}}]}]}, "messages[0].content[0]", "'document'"),
    # Embeddings: an input needs something to embed
    ("/v1/embeddings", {"input": [{"text": None, "video": None}]}, "input[0]",
     'needs "text", "image" or "video"'),
]


@pytest.mark.parametrize(("route", "body", "param", "words"), CASES,
                         ids=[f"{c[0]}:{c[2]}:{c[3][:24]}" for c in CASES])
def test_each_refusal_is_a_400_naming_the_part_and_saying_why(route, body, param, words):
    with pytest.raises(InvalidRequest) as info:
        validate_body(route, body, served_model="m")
    assert (info.value.status, info.value.param) == (400, param)
    assert words in info.value.message


@pytest.mark.parametrize(("route", "body"), [
    ("/v1/chat/completions", chat(IMAGE, {"type": "image", "image": "AAAA"})),
    ("/v1/responses", responses({"type": "input_image", "image_url": "data:image/png;base64,AA"},
                                {"type": "refusal", "refusal": "no"})),
    ("/v1/responses", responses(item={"type": "function_call_output", "call_id": "c",
                                      "output": "42"})),
    ("/v1/messages", messages({"type": "image", "source": {"type": "url", "url": "http://a"}},
                              {"type": "tool_result", "tool_use_id": "t", "content": [
                                  {"type": "text", "text": "ok"}]},
                              tools=[{"name": "f", "input_schema": {}}])),
    ("/v1/embeddings", {"input": [{"text": "x", "image": "data:image/png;base64,AA"}]}),
])
def test_what_the_rules_accept_passes(route, body):
    assert validate_body(route, body, served_model="m")
