"""Tensor parallelism from the GPU count, decided on simulated devices, and the decision's way
into SGLang's command line."""

import json
import logging

import pytest

from sglang_worker.engine.launcher import LAUNCH_VARIABLE
from sglang_worker.engine.parallelism import choose_tensor_parallel
from sglang_worker.settings import Settings

# The head counts of Qwen2.5-VL's config.json files (text heads, KV heads, vision heads).
QWEN25_VL_72B = {"num_attention_heads": 64, "num_key_value_heads": 8,
                 "vision_config": {"num_heads": 16}}
QWEN25_VL_7B = {"num_attention_heads": 28, "num_key_value_heads": 4,
                "vision_config": {"num_heads": 16}}
NESTED = {"text_config": {"num_attention_heads": 12, "num_key_value_heads": 3},
          "vision_config": {"num_heads": 12}}  # the newer transformers layout


@pytest.mark.parametrize("gpus, config, size", [
    (4, QWEN25_VL_72B, 4),
    (8, QWEN25_VL_72B, 8),
    (2, QWEN25_VL_7B, 2),
    (4, QWEN25_VL_7B, 4),
    (4, NESTED, 3),  # 3 KV heads neither divide by 4 nor divide it; 3 shards everything
    (6, {"num_attention_heads": 16, "num_key_value_heads": 2}, 4),  # KV heads replicated
])
def test_the_largest_size_the_model_shards_by(gpus, config, size):
    assert choose_tensor_parallel(gpus, {}, (), config).size == size


def test_every_gpu_used_is_said_plainly():
    assert choose_tensor_parallel(4, {}, (), QWEN25_VL_72B).message == (
        "4 GPUs: tensor parallelism 4")


def test_idle_gpus_are_explained_with_the_head_counts():
    decision = choose_tensor_parallel(8, {}, (), QWEN25_VL_7B)
    assert decision.size == 4
    assert decision.message.startswith("8 GPUs: tensor parallelism 4, so 4 GPU(s) stay idle: "
                                       "the model's attention heads (28, 16; KV heads 4) do "
                                       "not shard 8 ways")
    assert "TP_SIZE and DP_SIZE" in decision.message


@pytest.mark.parametrize("gpus", [0, 1])
def test_one_gpu_or_none_is_nothing_to_decide(gpus):
    assert choose_tensor_parallel(gpus, {}, (), QWEN25_VL_72B) == (
        choose_tensor_parallel(gpus, {"TP_SIZE": "4"}, (), None))
    assert choose_tensor_parallel(gpus, {}, (), QWEN25_VL_72B).size is None


@pytest.mark.parametrize("env, extra, owner", [
    ({"TENSOR_PARALLEL_SIZE": "2"}, (), "TENSOR_PARALLEL_SIZE"),
    ({"DP_SIZE": "4"}, (), "DP_SIZE"),
    ({"TP_SIZE": " "}, ("--tp", "2"), "SGLANG_ARGS --tp"),  # blank is unset
    ({}, ("--dp-size=2",), "SGLANG_ARGS --dp-size"),
])
def test_parallelism_the_deployer_set_is_theirs(env, extra, owner):
    decision = choose_tensor_parallel(4, env, extra, QWEN25_VL_72B)
    assert decision.size is None
    assert decision.message == f"4 GPUs; parallelism as set by {owner}"


def test_without_the_config_a_power_of_two_and_a_warning_that_it_is_unchecked():
    decision = choose_tensor_parallel(6, {}, (), None)
    assert decision.size == 4
    assert "could not be read before the download, so it was not checked" in decision.message


class Started(Exception):
    """Raised by the fake Popen: the engine's command line and environment were decided."""


def test_launch_engine_passes_the_choice_cache_and_template_to_sglang(tmp_path, monkeypatch,
                                                                      caplog):
    from sglang_worker.engine import server

    model = tmp_path / "qwen2.5-vl-72b"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl",
                                                   **QWEN25_VL_72B}))
    volume = tmp_path / "runpod-volume"
    volume.mkdir()
    seen = {}

    def popen(argv, **kwargs):
        seen.update(kwargs["env"])
        raise Started

    monkeypatch.setattr(server, "gpu_names", lambda: ["NVIDIA H100 80GB HBM3"] * 4)
    monkeypatch.setattr(server.subprocess, "Popen", popen)
    monkeypatch.setattr(server, "TEMPLATE_DIR", tmp_path / "templates")
    monkeypatch.setenv("CHAT_TEMPLATE", "{% for m in messages %}{{ m.content }}{% endfor %}")
    for name in ("SGLANG_CACHE_DIR", "TVM_FFI_CACHE_DIR", "TP_SIZE", "TENSOR_PARALLEL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(model_name=str(model), base_path=volume,
                        baked_model_manifest=tmp_path / "no-manifest.json")
    with caplog.at_level(logging.INFO, logger="sglang_worker"), pytest.raises(Started):
        server.launch_engine(settings)
    launch = json.loads(seen[LAUNCH_VARIABLE])
    assert launch["cpu"] is False
    assert launch["extra_args"][:2] == ["--tp-size", "4"]
    assert seen["CHAT_TEMPLATE"].startswith(str(tmp_path / "templates" / "chat-template-"))
    cache = seen["SGLANG_CACHE_DIR"]
    assert cache.startswith(str(volume / "sglang-compile-cache" / "nvidia-h100-80gb-hbm3_sglang-"))
    assert seen["TVM_FFI_CACHE_DIR"] == f"{cache}/tvm-ffi"
    logged = caplog.text
    assert "4 GPUs: tensor parallelism 4" in logged
    assert f"compile caches: {cache}" in logged
