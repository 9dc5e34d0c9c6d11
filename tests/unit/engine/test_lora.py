"""``engine.lora``: the adapter settings in SGLang's and worker-vllm's forms, the checks against
the base model (its name, the rank, each tensor's shape from the safetensors header), the
refusal of adapters given to SGLang unchecked, and the flags SGLang gets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sglang_worker.engine.lora import (
    Adapter,
    base_key,
    check_adapter,
    lora_flags,
    parse_adapters,
    refuse_unchecked,
    resolve_adapter,
)
from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import Settings
from tests.support.hub_stand_in import HubStandIn
from tiny_models.adapter import build_adapter
from tiny_models.build import TEXT

BASE = {"hidden_size": TEXT["hidden"], "num_attention_heads": TEXT["heads"],
        "num_key_value_heads": TEXT["kv_heads"], "head_dim": TEXT["head_dim"],
        "intermediate_size": TEXT["mlp"], "num_hidden_layers": TEXT["layers"]}
NAMES = ("/models/tiny-qwen2-vl", "tiny-org/qwen2-vl", "/models/tiny-qwen2-vl")


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory) -> Path:
    return build_adapter(tmp_path_factory.mktemp("lora") / "a")


@pytest.mark.parametrize(("adapters", "modules", "expected"), [
    ("a=/m/a b=org/b", "", [("a", "/m/a"), ("b", "org/b")]),
    ("a=/m/a,org/b-lora", "", [("a", "/m/a"), ("b-lora", "org/b-lora")]),
    ('[{"lora_name": "a", "lora_path": "/m/a", "pinned": true}]', "", [("a", "/m/a")]),
    ('{"a": "/m/a", "b": "org/b"}', "", [("a", "/m/a"), ("b", "org/b")]),
    ("", '[{"name": "a", "path": "org/a"}]', [("a", "org/a")]),
    ("", '{"name": "a", "path": "org/a", "base_model_name": "x"}', [("a", "org/a")]),
    ("", "", []),
])
def test_adapters_are_read_in_sglangs_and_worker_vllms_forms(adapters, modules, expected):
    assert [(a.name, a.source) for a in parse_adapters(adapters, modules)] == expected


@pytest.mark.parametrize(("adapters", "modules", "words"), [
    ("a=/x", '[{"name": "b", "path": "y"}]', "both set"),
    ("a=/x a=/y", "", "given twice"),
    ("a:b=/x", "", "is not valid"),
    ("x/y=/z", "", "is not valid"),
    ("[1]", "", "must be a JSON object"),
    ("[{", "", "not valid JSON"),
    ('[{"name": "a"}]', "", "no path or hub id"),
])
def test_bad_adapter_settings_are_refused_naming_the_variable(adapters, modules, words):
    with pytest.raises(EngineConfigError, match=words):
        parse_adapters(adapters, modules)


def test_names_are_reduced_so_local_and_quantized_copies_of_the_base_match():
    assert base_key("Qwen/Qwen2.5-VL-7B-Instruct") == base_key(
        "/runpod-volume/huggingface-cache/hub/models--Qwen--Qwen2.5-VL-7B-Instruct/snapshots/ab12")
    assert base_key("Qwen/Qwen2.5-VL-7B-Instruct-AWQ") == base_key("qwen2.5-vl-7b-instruct")
    assert base_key("unsloth/Qwen2.5-VL-7B-Instruct-bnb-4bit") == "qwen2.5-vl-7b-instruct"
    assert base_key("Qwen/Qwen2.5-VL-3B-Instruct") != base_key("Qwen/Qwen2.5-VL-7B-Instruct")


def test_a_fitting_adapter_passes_with_its_rank(adapter_dir):
    adapter = resolve_adapter(Adapter("a", str(adapter_dir)), {})
    assert adapter.path == str(adapter_dir)
    assert check_adapter(adapter, BASE, NAMES, None) == 4
    assert check_adapter(adapter, None, NAMES, 4) == 4  # the base's config not yet there


def _copy(adapter_dir: Path, tmp_path: Path, **config) -> Adapter:
    target = tmp_path / "copy"
    target.mkdir()
    (target / "adapter_model.safetensors").write_bytes(
        (adapter_dir / "adapter_model.safetensors").read_bytes())
    original = json.loads((adapter_dir / "adapter_config.json").read_text())
    (target / "adapter_config.json").write_text(json.dumps({**original, **config}))
    return Adapter("copy", str(target), path=str(target))


@pytest.mark.parametrize(("config", "base", "max_rank", "words"), [
    ({"r": 8}, BASE, None, "needs [8, 64]"),
    ({"r": 8}, None, None, "needs rank 8 in its lora_A"),
    ({"base_model_name_or_path": "org/another-model"}, BASE, None, "made for base model"),
    ({}, BASE, 2, "over MAX_LORA_RANK=2"),
    ({}, {**BASE, "hidden_size": 128, "head_dim": 32}, None, "needs [4, 128]"),
    ({"peft_type": "PREFIX_TUNING"}, BASE, None, "is not a LoRA adapter"),
])
def test_an_adapter_that_would_not_serve_is_refused_with_the_cause(adapter_dir, tmp_path, config,
                                                                   base, max_rank, words):
    with pytest.raises(EngineConfigError, match=re.escape(words)):
        check_adapter(_copy(adapter_dir, tmp_path, **config), base, NAMES, max_rank)


def test_missing_files_and_directories_are_refused(tmp_path):
    with pytest.raises(EngineConfigError, match="does not exist"):
        resolve_adapter(Adapter("a", str(tmp_path / "nothing")), {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineConfigError, match=r"no readable adapter_config\.json"):
        check_adapter(Adapter("a", str(tmp_path / "empty")), BASE, NAMES, None)


@pytest.mark.parametrize(("args", "env"), [
    (("--lora-paths", "a=/x"), {}), (("--enable-lora",), {}), ((), {"LORA_PATHS": "a=/x"}),
    ((), {"ENABLE_LORA": "true"})])
def test_adapters_given_straight_to_sglang_are_refused(args, env):
    with pytest.raises(EngineConfigError, match="LORA_ADAPTERS instead"):
        refuse_unchecked(args, env)
    refuse_unchecked(("--context-length", "4096"), {"ENABLE_LORA": "false", "LORA_PATHS": " "})


def test_the_flags_pick_the_cpu_backend_and_the_largest_rank():
    adapters = [Adapter("a", "org/a", path="/c/a"), Adapter("b", "/b", path="/b", pinned=True)]
    cpu = lora_flags(adapters, Settings(), cpu=True, ranks=[4, 16])
    assert cpu[:3] == ["--enable-lora", "--lora-paths", "a=/c/a"]
    assert json.loads(cpu[3]) == {"lora_name": "b", "lora_path": "/b", "pinned": True}
    assert cpu[4:] == ["--max-loras-per-batch", "8", "--max-lora-rank", "16",
                       "--lora-backend", "torch_native"]
    gpu = lora_flags(adapters, Settings(max_lora_rank=32, max_loras_per_batch=2), cpu=False,
                     ranks=[4, 16])
    assert gpu[4:] == ["--max-loras-per-batch", "2", "--max-lora-rank", "32"]
    assert lora_flags([], Settings(), cpu=True, ranks=[]) == []


@pytest.fixture
def hub():
    stand_in = HubStandIn({"org/gated-lora": (403, "GatedRepo")})
    yield stand_in
    stand_in.close()


@pytest.mark.parametrize(("source", "env", "words"), [
    ("org/gated-lora", {}, "is a gated repository on Hugging Face and no HF_TOKEN is set"),
    ("org/gated-lora", {"HF_TOKEN": "hf_secret"}, "HF_TOKEN may not read it"),
    ("org/missing-lora", {}, "was not found on Hugging Face"),
])
def test_a_hub_adapter_that_cannot_be_read_fails_with_the_cause(hub, tmp_path, source, env,
                                                                words):
    with pytest.raises(EngineConfigError, match=words) as raised:
        resolve_adapter(Adapter("a", source), {"HF_ENDPOINT": hub.url,
                                               "HF_HUB_CACHE": str(tmp_path), **env})
    assert "hf_secret" not in raised.value.message


def test_a_cached_hub_adapter_is_served_offline(adapter_dir, tmp_path):
    snapshot = tmp_path / "models--org--cached-lora" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (snapshot / name).write_bytes((adapter_dir / name).read_bytes())
    (tmp_path / "models--org--cached-lora" / "refs").mkdir()
    (tmp_path / "models--org--cached-lora" / "refs" / "main").write_text("0" * 40)
    adapter = resolve_adapter(Adapter("a", "org/cached-lora"),
                              {"HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert Path(adapter.path) == snapshot


def test_launch_engine_refuses_a_bad_adapter_before_any_engine_starts(adapter_dir, monkeypatch,
                                                                      tmp_path):
    from sglang_worker.engine import server

    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
    other = _copy(adapter_dir, tmp_path, base_model_name_or_path="org/another-model")
    for adapters, words in ((f"a={tmp_path / 'absent'}", "does not exist"),
                            (f"a={other.path}", "made for base model 'org/another-model'")):
        settings = Settings(lora_adapters=adapters, base_path=tmp_path / "no-volume",
                            baked_model_manifest=tmp_path / "no-manifest.json")
        with pytest.raises(EngineConfigError, match=words):
            server.launch_engine(settings)
