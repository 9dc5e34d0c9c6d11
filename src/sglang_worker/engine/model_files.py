"""The served model's own files, read once the engine is up: pure reads, never the network.

Contract: ``model_json(model_path, filename, env)`` is one JSON file of the model
(``config.json``, ``preprocessor_config.json``, ...) from a local directory, or from the
Hugging Face cache the engine has just filled, found through the engine's environment ``env``
(on a network volume only the engine's has ``HF_HOME``); None when it cannot be read offline.
``vocab_size`` and ``model_type`` read ``config.json``; the first keeps out token ids that crash
SGLang, the second (with the preprocessor config) sizes images for the model.
``chat_template(model_path, chosen, env)`` is the Jinja template SGLang's ``/v1/rerank`` renders:
a ``--chat-template`` ``.jinja`` file when one is chosen, else the processor's
(``chat_template.jinja``, ``chat_template.json``), else the tokenizer's
(``tokenizer_config.json``, its ``default`` entry when it holds several), as SGLang's template
manager resolves it. ``reranks_media(template, model_path)`` says whether SGLang 0.5.23's rerank
renders image and video parts for such a model: only its Qwen3-VL reranker path does (a
template with the yes/no judgement and vision placeholders, or a model path naming Qwen3-VL).
Its text reranker and cross-encoder paths keep the text of content parts and drop the rest, and
the text template renders list content wrong, so the worker refuses content parts for those.
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


def _model_text(model_path: str, filename: str, env: Mapping[str, str]) -> str | None:
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
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def model_json(model_path: str, filename: str, env: Mapping[str, str]) -> dict[str, Any] | None:
    """One JSON file of the served model (``config.json``, ``preprocessor_config.json``, ...)
    from a local directory, or from the Hugging Face cache the engine has just filled, found
    through the engine's environment ``env`` (on a network volume only the engine's has
    ``HF_HOME``); None when it cannot be read offline or is not a JSON object."""
    text = _model_text(model_path, filename, env)
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
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


def _template_of(value: Any) -> str | None:
    if isinstance(value, list):  # several named templates: SGLang takes "default"
        named = {entry.get("name"): entry.get("template") for entry in value
                 if isinstance(entry, dict)}
        value = named.get("default")
    return value if isinstance(value, str) and value.strip() else None


def chat_template(model_path: str, chosen: str | None, env: Mapping[str, str]) -> str | None:
    """The Jinja chat template the engine's tokenizer holds (see the module contract)."""
    if chosen and chosen.endswith(".jinja"):
        try:
            return Path(chosen).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None
    return (_template_of(_model_text(model_path, "chat_template.jinja", env))
            or _template_of((model_json(model_path, "chat_template.json", env) or {})
                            .get("chat_template"))
            or _template_of((model_json(model_path, "tokenizer_config.json", env) or {})
                            .get("chat_template")))


def reranks_media(template: str | None, model_path: str) -> bool:
    """Whether SGLang's ``/v1/rerank`` renders image and video parts for this model."""
    lowered = (template or "").lower()
    judges = 'answer can only be "yes" or "no"' in lowered or (
        "answer can only be" in lowered and '"yes"' in lowered and '"no"' in lowered)
    vision = "<|vision_start|>" in lowered or "<|image_pad|>" in lowered
    named = model_path.lower()
    return (judges and vision) or "qwen3-vl" in named or "qwen3vl" in named
