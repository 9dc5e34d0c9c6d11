"""Which model and device: MODEL_NAME, the tiny model on CPU, a clear refusal on a GPU."""

import os
import stat

import pytest

from sglang_worker.engine_args import EngineConfigError
from sglang_worker.model_source import has_cuda_gpu, resolve_model
from sglang_worker.settings import Settings


def test_model_name_is_used_as_is_on_any_device(tmp_path):
    settings = Settings(model_name="Qwen/Qwen2.5-VL-7B-Instruct", tiny_model_dir=tmp_path / "x")
    assert resolve_model(settings, gpu=True) == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert resolve_model(settings, gpu=False) == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert not (tmp_path / "x").exists()


def test_no_model_on_a_gpu_is_a_clear_start_up_error(tmp_path):
    with pytest.raises(EngineConfigError, match="MODEL_NAME is not set"):
        resolve_model(Settings(model_name=None, tiny_model_dir=tmp_path / "x"), gpu=True)


def fake_nvidia_smi(directory, output: str, code: int = 0) -> None:
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("output, code, visible, expected", [
    ("GPU 0: NVIDIA L40S (UUID: GPU-1)", 0, None, True),
    ("No devices were found", 6, None, False),
    ("GPU 0: NVIDIA L40S (UUID: GPU-1)", 0, "", False),
])
def test_gpu_detection_asks_the_driver_without_importing_torch(
    tmp_path, monkeypatch, output, code, visible, expected
):
    fake_nvidia_smi(tmp_path, output, code)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert has_cuda_gpu() is expected


def test_no_driver_means_no_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert has_cuda_gpu() is False
