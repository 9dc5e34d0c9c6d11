"""The GPUs a worker was given, from ``nvidia-smi -L`` and ``CUDA_VISIBLE_DEVICES``."""

import os
import stat

import pytest

from sglang_worker.engine.gpus import gpu_names, parse_gpu_list

FOUR_H100 = "\n".join(f"GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-{i}aa)" for i in range(4))


@pytest.mark.parametrize("listing, visible, expected", [
    (FOUR_H100, None, ["NVIDIA H100 80GB HBM3"] * 4),
    (FOUR_H100, "0,1", ["NVIDIA H100 80GB HBM3"] * 2),  # SGLang sees only those
    (FOUR_H100, "GPU-0aa", ["NVIDIA H100 80GB HBM3"]),
    (FOUR_H100, "", []),
    (FOUR_H100, "-1", []),
    ("GPU 0: NVIDIA L40S", None, ["NVIDIA L40S"]),  # an older driver prints no UUID
    ("No devices were found", None, []),
])
def test_parse_gpu_list(listing, visible, expected):
    assert parse_gpu_list(listing, visible) == expected


def fake_nvidia_smi(directory, output: str, code: int = 0) -> None:
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("output, code, expected", [
    ("GPU 0: NVIDIA L40S (UUID: GPU-1)", 0, ["NVIDIA L40S"]),
    ("No devices were found", 6, []),
])
def test_the_driver_is_asked_without_importing_torch(tmp_path, monkeypatch, output, code,
                                                      expected):
    fake_nvidia_smi(tmp_path, output, code)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_names() == expected


def test_hidden_gpus_and_no_driver_mean_none(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA L40S (UUID: GPU-1)")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_names() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert gpu_names() == []
