"""The tiny Qwen2-Audio (``--audio``): deterministic, in the published nested layout, with
Qwen2-Audio's special tokens, feature extractor settings and chat template."""

import json
from pathlib import Path

import jinja2.sandbox
import pytest
from tokenizers import Tokenizer

from sglang_worker.audio.rules import audio_rules
from tiny_models.build import AUDIO_SPECIAL_TOKENS, STAMP_NAME, build_tiny_model, main

AUDIO_PART = "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>"


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def read(model: Path, name: str) -> dict:
    return json.loads((model / name).read_text())


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    first = build_tiny_model(tmp_path_factory.mktemp("first") / "model", audio=True)
    second = tmp_path_factory.mktemp("second") / "model"
    assert main(["--out", str(second), "--audio"]) == 0  # the command line builds the same
    return first, second


def test_two_builds_are_byte_identical(two_builds):
    first, second = two_builds
    assert file_bytes(first) == file_bytes(second)
    assert set(file_bytes(first)) == {
        "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
        "tokenizer_config.json", "preprocessor_config.json", "processor_config.json",
        "chat_template.json", STAMP_NAME}
    assert read(first, STAMP_NAME)["variant"] == "qwen2-audio"


def test_config_has_the_published_nested_layout(two_builds):
    model, _ = two_builds
    config = read(model, "config.json")
    assert config["model_type"] == "qwen2_audio"
    assert config["architectures"] == ["Qwen2AudioForConditionalGeneration"]
    assert config["text_config"]["model_type"] == "qwen2"
    assert config["text_config"]["hidden_size"] == 64
    assert config["audio_config"]["model_type"] == "qwen2_audio_encoder"
    assert config["audio_config"]["num_mel_bins"] == 128
    assert config["audio_config"]["max_source_positions"] == 1500
    assert "vision_config" not in config and "hidden_size" not in config


def test_the_six_special_tokens_match_the_config(two_builds):
    model, _ = two_builds
    config = read(model, "config.json")
    added = read(model, "tokenizer.json")["added_tokens"]
    ids = {t["content"]: t["id"] for t in added}
    assert [t["content"] for t in added] == list(AUDIO_SPECIAL_TOKENS) == [
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>",
        "<|audio_eos|>"]
    assert all(t["special"] for t in added)
    assert config["audio_token_index"] == ids["<|AUDIO|>"]
    assert config["text_config"]["eos_token_id"] == ids["<|im_end|>"]
    assert max(ids.values()) < config["vocab_size"] == config["text_config"]["vocab_size"]
    decoder = read(model, "tokenizer_config.json")["added_tokens_decoder"]
    assert {t["content"]: int(i) for i, t in decoder.items()} == ids


def test_the_feature_extractor_is_qwen2_audios(two_builds):
    model, _ = two_builds
    preprocessor = read(model, "preprocessor_config.json")
    assert (preprocessor["sampling_rate"], preprocessor["chunk_length"]) == (16000, 30)
    assert preprocessor["feature_extractor_type"] == "WhisperFeatureExtractor"
    assert preprocessor["feature_size"] == 128
    # The worker reads the same file: 16 kHz, the first 30 s.
    rules = audio_rules(read(model, "config.json")["model_type"], preprocessor)
    assert (rules.rate, rules.window_samples) == (16000, preprocessor["n_samples"]) == (
        16000, 480_000)
    assert read(model, "processor_config.json")["audio_token"] == "<|AUDIO|>"


def render(template: str, messages: list[dict]) -> str:
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True,
                                                               lstrip_blocks=True)
    return environment.from_string(template).render(messages=messages,
                                                    add_generation_prompt=True)


def test_the_chat_template_renders_each_audio_part(two_builds):
    model, _ = two_builds
    template = read(model, "tokenizer_config.json")["chat_template"]
    assert read(model, "chat_template.json") == {"chat_template": template}
    messages = [{"role": "user", "content": [{"type": "audio"},
                                             {"type": "text", "text": "What is said?"}]}]
    prompt = render(template, messages)
    assert prompt == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                      f"<|im_start|>user\n{AUDIO_PART}\nWhat is said?<|im_end|>\n"
                      "<|im_start|>assistant\n")
    two = [{"role": "user", "content": [
        {"type": "audio_url", "audio_url": {"url": "x"}}, {"type": "audio"}]}]
    assert "Audio 1: <|audio_bos|>" in render(template, two)
    assert "Audio 2: <|audio_bos|><|AUDIO|><|audio_eos|>" in render(template, two)
    # The tokenizer reads the audio markers as single tokens.
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    ids = tokenizer.encode(prompt, add_special_tokens=False).ids
    markers = [tokenizer.token_to_id(t) for t in ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>")]
    assert any(ids[i:i + 3] == markers for i in range(len(ids)))


def test_weights_use_the_names_sglang_loads(two_builds):
    from safetensors import safe_open

    model, _ = two_builds
    with safe_open(model / "model.safetensors", framework="pt") as weights:
        names = list(weights.keys())
    assert {name.split(".")[0] for name in names} == {
        "language_model", "audio_tower", "multi_modal_projector"}
    assert "language_model.lm_head.weight" in names
    assert "audio_tower.layers.0.self_attn.k_proj.bias" not in names


def test_a_second_call_does_not_rebuild(two_builds):
    model, _ = two_builds
    before = {p.name: p.stat().st_mtime_ns for p in model.iterdir()}
    assert build_tiny_model(model, audio=True) == model
    assert {p.name: p.stat().st_mtime_ns for p in model.iterdir()} == before
