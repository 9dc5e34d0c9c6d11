"""What the served model's feature extractor wants, read from its config files: Qwen2-Audio's
16 kHz and 30 s window (the tiny model's preprocessor values, which are the published ones),
the whole clip for every other family, and 16 kHz when the file says nothing usable."""

from __future__ import annotations

import pytest

from sglang_worker.audio.rules import DEFAULT_RATE, AudioRules, audio_rules
from tiny_models.build import _audio_preprocessor_config

TINY = _audio_preprocessor_config()  # what tiny_models.build writes for --audio


def test_qwen2_audio_reads_16_khz_and_a_30_s_window_from_the_preprocessor():
    rules = audio_rules("qwen2_audio", TINY)
    assert rules == AudioRules(16000, 30.0)
    assert rules.window_samples == 480_000 == TINY["n_samples"]
    assert isinstance(rules.window_s, float)


def test_the_window_follows_the_files_chunk_length_and_rate():
    rules = audio_rules("qwen2_audio", {"sampling_rate": 24000, "chunk_length": 10})
    assert (rules.rate, rules.window_s, rules.window_samples) == (24000, 10.0, 240_000)
    assert audio_rules("qwen2_audio", {"chunk_length": 2.5}).window_samples == 40_000


@pytest.mark.parametrize("model_type", ["whisper", "gemma3n", "phi4mm", "voxtral", "qwen2_vl",
                                        "Qwen2_Audio", "", None])
def test_any_other_model_type_reads_the_whole_clip(model_type):
    rules = audio_rules(model_type, TINY)
    assert rules == AudioRules(16000, None) and rules.window_samples is None


@pytest.mark.parametrize("chunk_length", [None, 0, -30, "30", True, [30]])
def test_a_missing_or_invalid_chunk_length_means_no_window(chunk_length):
    config = {**TINY, "chunk_length": chunk_length}
    if chunk_length is None:
        del config["chunk_length"]
    assert audio_rules("qwen2_audio", config) == AudioRules(16000, None)


@pytest.mark.parametrize("rate", [None, 0, -16000, "16000", True, [16000], {"rate": 8000}])
def test_a_missing_or_invalid_sampling_rate_is_16_khz(rate):
    config = {"chunk_length": 30} if rate is None else {"chunk_length": 30, "sampling_rate": rate}
    assert audio_rules("qwen2_audio", config) == AudioRules(DEFAULT_RATE, 30.0)
    assert DEFAULT_RATE == 16000


def test_no_preprocessor_at_all_is_the_defaults():
    assert audio_rules("qwen2_audio", None) == AudioRules(16000, None)
    assert audio_rules(None, None) == AudioRules() == AudioRules(16000, None)
    assert audio_rules(None, {}) == AudioRules()


def test_describe_says_the_rate_and_how_much_is_read():
    assert audio_rules("qwen2_audio", TINY).describe() == "mono 16000 Hz, the first 30 s"
    assert AudioRules(24000, 2.5).describe() == "mono 24000 Hz, the first 2.5 s"
    assert AudioRules(16000, None).describe() == "mono 16000 Hz, the whole clip"
