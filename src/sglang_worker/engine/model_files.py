"""The served model's own files, read once the engine is up: pure reads, never the network.

Contract: ``model_json(model_path, filename, env)`` is one JSON file of the model
(``config.json``, ``preprocessor_config.json``, ...) from a local directory, or from the
Hugging Face cache the engine has just filled, found through the engine's environment ``env``
(on a network volume only the engine's has ``HF_HOME``); None when it cannot be read offline.
``vocab_size`` and ``model_type`` read ``config.json``; the first keeps out token ids that crash
SGLang, the second (with the preprocessor config) sizes images for the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def hub_cache(env: Mapping[str, str]) -> str | None:
    """The Hugging Face hub cache ``env`` points at; None: the library's default."""
    if env.get("HF_HUB_CACHE"):
        return env["HF_HUB_CACHE"]
    return str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else None


def model_json(model_path: str, filename: str, env: Mapping[str, str]) -> dict[str, Any] | None:
    """One JSON file of the served model (``config.json``, ``preprocessor_config.json``, ...)
    from a local directory, or from the Hugging Face cache the engine has just filled, found
    through the engine's environment ``env`` (on a network volume only the engine's has
    ``HF_HOME``); None when it cannot be read offline or is not a JSON object."""
    path: Path | None = Path(model_path) / filename
    if not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model_path, filename, cache_dir=hub_cache(env))
        except (ImportError, ValueError):
            cached = None
        path = Path(cached) if isinstance(cached, str) else None
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def vocab_size(model_path: str, env: Mapping[str, str]) -> int | None:
    """The served model's vocabulary size from its ``config.json``; None when unknown."""
    config = model_json(model_path, "config.json", env) or {}
    size = config.get("vocab_size") or (config.get("text_config") or {}).get("vocab_size")
    return size if isinstance(size, int) and size > 0 else None


def model_type(model_path: str, env: Mapping[str, str]) -> str | None:
    """``config.json``'s ``model_type`` (``qwen2_vl``, ...); None when unknown."""
    value = (model_json(model_path, "config.json", env) or {}).get("model_type")
    return value if isinstance(value, str) else None
