"""The tiny test model builder: deterministic, in the published flat layout, idempotent."""

import json
from pathlib import Path

import pytest

from tiny_models.build import STAMP_NAME, build_tiny_model


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module", params=[True, False], ids=["qwen2-vl", "qwen2-text"])
def two_builds(request, tmp_path_factory) -> tuple[Path, Path, bool]:
    vision = request.param
    first = build_tiny_model(tmp_path_factory.mktemp("first") / "model", vision=vision)
    second = build_tiny_model(tmp_path_factory.mktemp("second") / "model", vision=vision)
    return first, second, vision


def test_two_builds_are_byte_identical(two_builds):
    first, second, _ = two_builds
    assert file_bytes(first) == file_bytes(second)
    assert {"config.json", "model.safetensors", "tokenizer.json", STAMP_NAME} <= set(
        file_bytes(first)
    )


def test_config_has_the_flat_published_layout(two_builds):
    model, _, vision = two_builds
    config = json.loads((model / "config.json").read_text())
    assert "text_config" not in config
    assert config["hidden_size"] == 64
    assert config["num_hidden_layers"] == 2
    if vision:
        assert config["architectures"] == ["Qwen2VLForConditionalGeneration"]
        assert config["vision_config"]["in_chans"] == 3
        assert config["rope_scaling"]["mrope_section"] == [2, 3, 3]
        assert (model / "preprocessor_config.json").exists()
    else:
        assert config["architectures"] == ["Qwen2ForCausalLM"]
        assert "vision_config" not in config
        assert not (model / "preprocessor_config.json").exists()


def test_weights_use_the_published_names(two_builds):
    from safetensors import safe_open

    model, _, vision = two_builds
    with safe_open(model / "model.safetensors", framework="pt") as weights:
        prefixes = {name.split(".")[0] for name in weights.keys()}  # noqa: SIM118
    assert prefixes == ({"model", "visual", "lm_head"} if vision else {"model", "lm_head"})


def test_special_token_ids_match_the_config(two_builds):
    model, _, vision = two_builds
    config = json.loads((model / "config.json").read_text())
    tokenizer = json.loads((model / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    assert len(ids) == 14
    assert config["eos_token_id"] == ids["<|im_end|>"]
    assert max(ids.values()) < config["vocab_size"]
    if vision:
        assert config["image_token_id"] == ids["<|image_pad|>"]


def test_a_second_call_does_not_rebuild(two_builds):
    model, _, vision = two_builds
    before = {p.name: p.stat().st_mtime_ns for p in model.iterdir()}
    assert build_tiny_model(model, vision=vision) == model
    assert {p.name: p.stat().st_mtime_ns for p in model.iterdir()} == before


def test_an_incomplete_build_is_rebuilt(tmp_path):
    model = build_tiny_model(tmp_path / "model", vision=False)
    expected = file_bytes(model)
    (model / "model.safetensors").unlink()
    assert file_bytes(build_tiny_model(model, vision=False)) == expected


def test_a_foreign_directory_is_not_replaced(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_tiny_model(tmp_path / "model")
    assert (tmp_path / "model" / "notes.txt").read_text() == "mine"
