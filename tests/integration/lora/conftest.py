"""Two tiny LoRA adapters for the tiny Qwen2-VL (``tiny_models.adapter``, seeds 1 and 2), served
as a user deploys them: ``LORA_ADAPTERS="style=<dir> tone=<dir>"`` on SGLang's CPU engine
(its ``torch_native`` backend, with the CPU environment's stand-in for pinned memory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import MODELS


def build_adapter(name: str, *extra: str) -> Path:
    out = MODELS / name
    subprocess.run([sys.executable, "-m", "tiny_models.adapter", "--out", str(out), *extra],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def adapters() -> dict[str, Path]:
    return {"style": build_adapter("tiny-lora-style", "--seed", "1"),
            "tone": build_adapter("tiny-lora-tone", "--seed", "2")}


def lora_env(adapters: dict[str, Path]) -> dict[str, str]:
    return {"LORA_ADAPTERS": " ".join(f"{name}={path}" for name, path in adapters.items())}
