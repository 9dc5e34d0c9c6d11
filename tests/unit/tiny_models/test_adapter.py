"""The tiny LoRA adapter builder: PEFT's layout, deterministic, two seeds two adapters, and
shapes that the worker's own adapter check accepts on the tiny Qwen2-VL."""

import json

from sglang_worker.engine.lora import Adapter, check_adapter, safetensors_shapes
from tiny_models.adapter import BASE_NAME, adapter_shapes, build_adapter, main


def test_the_adapter_is_peft_shaped_deterministic_and_seeded(tmp_path, capsys):
    first = build_adapter(tmp_path / "a")
    assert main(["--out", str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "b")
    other = build_adapter(tmp_path / "c", seed=2)
    weights = "adapter_model.safetensors"
    assert (first / weights).read_bytes() == (tmp_path / "b" / weights).read_bytes()
    assert (first / weights).read_bytes() != (other / weights).read_bytes()
    config = json.loads((first / "adapter_config.json").read_text())
    assert (config["peft_type"], config["r"], config["base_model_name_or_path"]) == (
        "LORA", 4, BASE_NAME)
    assert safetensors_shapes(first / weights) == {
        name: list(shape) for name, shape in adapter_shapes(4).items()}


def test_the_worker_accepts_it_for_the_tiny_model(tmp_path):
    from tiny_models.build import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny-qwen2-vl", vision=False)
    config = json.loads((model / "config.json").read_text())
    adapter = build_adapter(tmp_path / "lora", rank=8)
    assert check_adapter(Adapter("a", str(adapter)), config, (str(model),), None) == 8
