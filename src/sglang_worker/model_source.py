"""Which model the engine serves, and on which device.

Contract:
- ``has_cuda_gpu()`` answers without importing torch: an NVIDIA driver that lists a GPU.
- ``resolve_model(settings, gpu)``: ``MODEL_NAME`` when set (a hub id or a local path, used as
  is). Without it, on a machine without a GPU, the project's tiny Qwen2-VL, built on first use by
  ``builder/build_tiny_model.py`` (a few seconds, no download). Without it on a GPU the worker
  refuses to start: guessing a multi-GB model to download would surprise everyone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .engine_args import EngineConfigError
from .settings import PROJECT_ROOT, Settings

TINY_MODEL_BUILDER = PROJECT_ROOT / "builder" / "build_tiny_model.py"


def has_cuda_gpu() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def build_tiny_model(target: Path, *, python: str = sys.executable) -> Path:
    """Build (or reuse) the tiny test model at ``target``; the builder is idempotent."""
    done = subprocess.run(
        [python, str(TINY_MODEL_BUILDER), "--out", str(target)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise EngineConfigError(
            f"could not build the tiny test model in {target}: {done.stderr.strip()[-2000:]}"
        )
    return target


def resolve_model(settings: Settings, *, gpu: bool) -> str:
    if settings.model_name:
        return settings.model_name
    if gpu:
        raise EngineConfigError(
            "MODEL_NAME is not set. On a GPU the worker needs a model to serve, for example "
            "MODEL_NAME=Qwen/Qwen2.5-VL-7B-Instruct (the tiny test model is for CPU-only runs)."
        )
    return str(build_tiny_model(settings.tiny_model_dir))
