"""Each API module finds its audio parts and writes the prepared tracks back, without I/O:
chat's ``input_audio`` and ``audio_url`` parts (and tokenize's, under chat's rules), and
``/generate``'s ``audio_data``; Responses and Messages carry no audio."""

from __future__ import annotations

import copy

import pytest

from sglang_worker.apis import api_for
from sglang_worker.errors import AudioError

CHAT = api_for("/v1/chat/completions")
GENERATE = api_for("/generate")
TOKENIZE = api_for("/v1/tokenize")
TRACK = "data:audio/x-matroska;base64,TRACK"


def chat_body() -> dict:
    return {
        "model": "m",
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": "plain string content is never touched"},
            {"role": "user", "content": [
                {"type": "text", "text": "first"},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "WAV"}},
                {"type": "audio_url", "audio_url": {"url": "https://a/1.mp3", "extra": 1},
                 "cache": "x"},
                {"type": "image_url", "image_url": {"url": "https://a/1.png"}},
            ]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [
                {"type": "audio_url", "audio_url": "data:audio/ogg;base64,T2dn"},
                {"type": "text", "text": "last"},
            ]},
        ],
    }


def test_chat_audio_parts_are_found_in_order_with_their_params():
    parts = CHAT.parts("audio", chat_body())
    assert [(p.param, p.source, p.format, p.location) for p in parts] == [
        ("messages[1].content[1]", "UklGRg==", "wav", ("messages", 1, "content", 1)),
        ("messages[1].content[2]", "https://a/1.mp3", None, ("messages", 1, "content", 2)),
        ("messages[3].content[0]", "data:audio/ogg;base64,T2dn", None,
         ("messages", 3, "content", 0)),
    ]
    assert CHAT.count("audio", chat_body()) == 3
    assert CHAT.count("image", chat_body()) == 1  # the image part is the image pipeline's


def test_each_audio_part_becomes_exactly_an_audio_url_part_and_the_input_is_untouched():
    body = chat_body()
    original = copy.deepcopy(body)
    parts = CHAT.parts("audio", body)
    new = CHAT.with_prepared("audio", body, {p.location: f"{TRACK}{i}"
                                             for i, p in enumerate(parts)})
    assert body == original
    assert new["messages"][1]["content"] == [
        {"type": "text", "text": "first"},
        {"type": "audio_url", "audio_url": {"url": f"{TRACK}0"}},
        {"type": "audio_url", "audio_url": {"url": f"{TRACK}1"}},
        {"type": "image_url", "image_url": {"url": "https://a/1.png"}},
    ]
    assert new["messages"][3]["content"][0] == {"type": "audio_url",
                                                "audio_url": {"url": f"{TRACK}2"}}
    # Everything else is the very same object: nothing copied that did not change.
    assert new["messages"][0] is body["messages"][0]
    assert new["messages"][1]["content"][3] is body["messages"][1]["content"][3]
    assert new["messages"][3]["content"][1] is body["messages"][3]["content"][1]
    assert CHAT.with_prepared("audio", body, {}) is body


def with_part(part: dict) -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "text", "text": "y"}, part]}]}


NO_DATA = "input_audio part has no data"
NOT_BASE64 = "input_audio.data must be base64 audio bytes; send a URL or a data URL as an " \
             "audio_url part"
BAD_FORMAT = "input_audio.format must be one of wav, mp3, flac, ogg, m4a, webm"
NO_URL = "audio part has no audio URL or data"


@pytest.mark.parametrize(("part", "words"), [
    ({"type": "input_audio"}, NO_DATA),
    ({"type": "input_audio", "input_audio": "UklGRg=="}, NO_DATA),
    ({"type": "input_audio", "input_audio": {"format": "wav"}}, NO_DATA),
    ({"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}, NO_DATA),
    ({"type": "input_audio", "input_audio": {"data": "  \n", "format": "wav"}}, NO_DATA),
    ({"type": "input_audio", "input_audio": {"data": 5, "format": "wav"}}, NO_DATA),
    ({"type": "input_audio", "input_audio": {"data": "data:audio/wav;base64,UklGRg==",
                                             "format": "wav"}}, NOT_BASE64),
    ({"type": "input_audio", "input_audio": {"data": " DATA:audio/wav;base64,UklG",
                                             "format": "wav"}}, NOT_BASE64),
    ({"type": "input_audio", "input_audio": {"data": "https://a/1.wav", "format": "wav"}},
     NOT_BASE64),
    ({"type": "input_audio", "input_audio": {"data": "file:///etc/passwd", "format": "wav"}},
     NOT_BASE64),
    ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "aiff"}},
     BAD_FORMAT),
    ({"type": "input_audio", "input_audio": {"data": "UklGRg=="}}, BAD_FORMAT),
    ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": 1}}, BAD_FORMAT),
    ({"type": "audio_url"}, NO_URL),
    ({"type": "audio_url", "audio_url": {}}, NO_URL),
    ({"type": "audio_url", "audio_url": {"url": 5}}, NO_URL),
    ({"type": "audio_url", "audio_url": "   "}, NO_URL),
    ({"type": "audio_url", "audio_url": ["https://a/1.wav"]}, NO_URL),
])
def test_malformed_audio_parts_are_refused_naming_the_part(part, words):
    with pytest.raises(AudioError) as caught:
        CHAT.parts("audio", with_part(part))
    assert caught.value.param == "messages[0].content[2]"
    assert caught.value.message.startswith(words)
    assert CHAT.count("audio", with_part(part)) == 1  # counting never raises


def test_the_first_malformed_part_is_the_one_named():
    body = with_part({"type": "input_audio", "input_audio": {"data": "AA", "format": "x"}})
    body["messages"][0]["content"][0] = {"type": "audio_url"}
    with pytest.raises(AudioError) as caught:
        CHAT.parts("audio", body)
    assert (caught.value.param, caught.value.message.startswith(NO_URL)) == (
        "messages[0].content[0]", True)


@pytest.mark.parametrize(("audio_data", "params"), [
    ("https://a/1.wav", ["audio_data"]),
    (["https://a/1.wav", "UklGRg=="], ["audio_data[0]", "audio_data[1]"]),
    ([["https://a/1.wav"], ["https://a/2.wav", "data:audio/wav;base64,UklGRg=="]],
     ["audio_data[0][0]", "audio_data[1][0]", "audio_data[1][1]"]),
    (None, []),
    ([], []),
])
def test_generate_audio_data_shapes(audio_data, params):
    body = {"text": "hi", "audio_data": audio_data, "image_data": "https://a/1.png",
            "sampling_params": {"max_new_tokens": 4}}
    original = copy.deepcopy(body)
    parts = GENERATE.parts("audio", body)
    assert [p.param for p in parts] == params
    assert all(p.format is None for p in parts)
    assert GENERATE.count("audio", body) == len(params)
    new = GENERATE.with_prepared("audio", body, {p.location: f"new:{p.param}" for p in parts})
    assert body == original
    if not params:
        assert new is body
        return
    flat = new["audio_data"] if isinstance(new["audio_data"], list) else [new["audio_data"]]
    flat = [x for item in flat for x in (item if isinstance(item, list) else [item])]
    assert flat == [f"new:{p}" for p in params]
    assert new["image_data"] is body["image_data"]
    assert new["sampling_params"] is body["sampling_params"]


@pytest.mark.parametrize(("audio_data", "param"), [
    ([{"url": "https://a/1.wav"}], "audio_data[0]"),
    (["https://a/1.wav", None], "audio_data[1]"),
    ([["https://a/1.wav", 3]], "audio_data[0][1]"),
    ([["https://a/1.wav", "  "]], "audio_data[0][1]"),
    (42, "audio_data"),
    ("", "audio_data"),
])
def test_generate_entries_other_than_strings_are_refused(audio_data, param):
    # SGLang would load such an entry itself, past every check of the worker.
    with pytest.raises(AudioError) as caught:
        GENERATE.parts("audio", {"text": "x", "audio_data": audio_data})
    assert caught.value.param == param
    assert caught.value.message.startswith("each audio_data entry must be a non-empty string")


def test_tokenize_finds_chats_audio_parts_and_puts_the_tracks_back():
    body = {"messages": chat_body()["messages"], "add_generation_prompt": True}
    parts = TOKENIZE.parts("audio", body)
    assert [p.param for p in parts] == [p.param for p in CHAT.parts("audio", chat_body())]
    assert TOKENIZE.count("audio", body) == 3
    new = TOKENIZE.with_prepared("audio", body, {parts[0].location: TRACK})
    assert new["messages"][1]["content"][1] == {"type": "audio_url", "audio_url": {"url": TRACK}}
    assert new["messages"][1]["content"][2] is body["messages"][1]["content"][2]


@pytest.mark.parametrize("route", ["/v1/responses", "/v1/messages", "/v1/completions",
                                   "/v1/embeddings"])
def test_other_apis_carry_no_audio_medium(route):
    api = api_for(route)
    audio_bodies = [
        chat_body(),
        {"input": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]},
        {"messages": [{"role": "user", "content": [
            {"type": "audio", "source": {"type": "base64", "data": "UklGRg=="}}]}]},
        {"input": [{"audio": "https://a/1.wav"}], "audio_data": ["https://a/1.wav"]},
    ]
    assert "audio" not in api.media
    for body in audio_bodies:
        assert api.count("audio", body) == 0
        assert api.parts("audio", body) == []


@pytest.mark.parametrize(("body", "in_chat", "in_generate"), [
    (None, 0, 0), ("text", 0, 0), (3, 0, 0), ([], 0, 0), ({}, 0, 0),
    ({"messages": "not a list"}, 0, 0), ({"messages": [None, 1, "x"]}, 0, 0),
    ({"messages": [{"role": "user", "content": ["str part", 5, None]}]}, 0, 0),
    ({"messages": [{"role": "user", "content": {"type": "audio_url"}}]}, 0, 0),
    ({"messages": [{"role": "user", "content": [{"type": ["audio_url"]}, {"no": "type"},
                                                {"type": "audio_url"}]}]}, 1, 0),
    ({"audio_data": {"url": "x"}}, 0, 1), ({"audio_data": [[[]], 0, None]}, 0, 3),
    ({"audio_data": 0}, 0, 1),
])
def test_counting_never_raises_on_malformed_bodies(body, in_chat, in_generate):
    assert CHAT.count("audio", body) == TOKENIZE.count("audio", body) == in_chat
    assert GENERATE.count("audio", body) == in_generate
    for route in ("/v1/responses", "/v1/messages"):
        assert api_for(route).count("audio", body) == 0
    if in_chat or in_generate:  # what was counted, the strict reading refuses
        with pytest.raises(AudioError):
            (CHAT if in_chat else GENERATE).parts("audio", body)
