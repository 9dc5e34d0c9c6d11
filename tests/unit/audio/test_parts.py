"""``input_audio.format``: one of the formats the decoder accepts, in any case."""

from __future__ import annotations

import pytest

from sglang_worker.audio.parts import FORMATS, AudioPart, check_format
from sglang_worker.errors import AudioError


@pytest.mark.parametrize(("value", "expected"), [
    ("wav", "wav"), ("WAV", "wav"), ("Mp3", "mp3"), ("FLAC", "flac"), ("ogg", "ogg"),
    ("M4A", "m4a"), ("WebM", "webm")])
def test_a_known_format_is_accepted_in_any_case(value, expected):
    assert check_format(value, "messages[0].content[1]") == expected


def test_the_formats_are_openais_two_and_the_other_accepted_containers():
    assert FORMATS == ("wav", "mp3", "flac", "ogg", "m4a", "webm")


@pytest.mark.parametrize("value", ["aiff", "pcm16", "opus", "", " wav", "wav ", "audio/wav",
                                   None, 3, ["wav"], {"format": "wav"}])
def test_any_other_format_is_refused_naming_the_part(value):
    with pytest.raises(AudioError) as info:
        check_format(value, "messages[0].content[2]")
    assert info.value.param == "messages[0].content[2]"
    assert info.value.message.startswith("input_audio.format must be one of wav, mp3, flac, "
                                         "ogg, m4a, webm, got ")


def test_a_long_bad_format_is_quoted_short():
    with pytest.raises(AudioError) as info:
        check_format("x" * 500, "p")
    assert len(info.value.message) < 120 and "'xxxx" in info.value.message


def test_a_part_names_its_place_and_has_no_format_unless_given():
    part = AudioPart("audio_data[0]", "AAAA", ("audio_data", 0))
    assert (part.param, part.location, part.format) == ("audio_data[0]", ("audio_data", 0), None)
