"""LoRA adapters: read from the settings, found on disk or fetched like the base model, checked
against the base model before SGLang starts, and turned into SGLang's flags.

Contract:
- ``parse_adapters(adapters, modules)``: ``LORA_ADAPTERS`` in SGLang's own ``--lora-paths``
  forms (entries separated by spaces or commas, each ``name=source`` or a bare ``source``,
  named then by its last path segment; or JSON: a list of ``{"lora_name", "lora_path",
  "pinned"?}``, or an object mapping names to sources), or worker-vllm's ``LORA_MODULES`` (JSON:
  a list of ``{"name", "path"}``, or one such object). Both at once, a malformed value, a name
  that is not 1 to 64 of ``A-Z a-z 0-9 . _ -`` (no ``/`` or ``:``, which the ``model`` field
  uses) or a name given twice is an ``EngineConfigError`` naming the variable.
- ``resolve_adapter(adapter, env)``: a source that is a directory is used as it is; anything
  else is a Hugging Face id, taken from the engine's hub cache when it is there (offline too),
  else its ``adapter_config.json`` and ``adapter_model.safetensors`` are fetched into that
  cache, with the engine's token and ``HF_ENDPOINT``. A missing, gated or unreadable adapter
  is an ``EngineConfigError`` with the cause; the token never appears in it.
- ``check_adapter(adapter, base_config, base_names, max_rank)`` reads the adapter's config and
  its safetensors header (no tensor is loaded) and refuses, with the cause, an adapter that is
  not LoRA, was made for another base model, has a rank over ``MAX_LORA_RANK``, or holds a
  tensor whose shape does not fit its rank or the base model's layer (a rank-4 tensor under
  ``r: 8`` loads in SGLang 0.5.23 and crashes the engine at the first request through it).
  Without the base's ``config.json`` (a hub model SGLang has yet to download) only the rank of
  each tensor is checked; ``launch_engine`` checks again with it once the engine is up, before
  anything is served.
- ``refuse_unchecked(extra_args, env)``: adapters given straight to SGLang (``--lora-paths`` or
  ``--enable-lora`` in ``SGLANG_ARGS``, ``LORA_PATHS``, ``ENABLE_LORA``) would skip every check
  above, so they are an ``EngineConfigError`` that points to ``LORA_ADAPTERS``.
  The base model matches when the names agree after both are reduced to their last path
  segment, lower-cased, with a hub cache's ``models--org--name`` layout and quantization
  suffixes (``-AWQ``, ``-GPTQ-Int4``, ``-FP8``, ``-bnb-4bit`` ...) removed, so a local or
  quantized copy of the same base passes; the base's names are ``MODEL_NAME``, the served name
  and the path SGLang loads. An adapter that names no base passes with a warning.
- ``lora_flags(adapters, settings, cpu, ranks)``: ``--enable-lora --lora-paths name=path ...``,
  ``--max-loras-per-batch``, ``--max-lora-rank`` (``MAX_LORA_RANK``, or if 0 the largest rank)
  and ``--lora-backend`` (``LORA_BACKEND``, else SGLang's default on a GPU and ``torch_native``
  on the CPU, where SGLang's Triton kernels do not run).
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sglang_worker.engine.model_files import hub_cache
from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_QUANTIZED = re.compile(r"(-(awq|gptq|int4|int8|fp8|bnb|4bit|8bit|gguf|mlx|w4a16|w8a8|"
                        r"dynamic|unsloth))+$")
_TENSOR = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


@dataclass(frozen=True, slots=True)
class Adapter:
    name: str
    source: str  # as configured: a local directory or a Hugging Face id
    path: str | None = None  # the local directory once resolved
    pinned: bool = False


def _check_name(name: Any, variable: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EngineConfigError(
            f"{variable}: adapter name {name!r} is not valid: use 1 to 64 letters, digits, '.', "
            "'_' or '-' (no '/' or ':', which the model field uses)")
    return name


def _entry(name: Any, source: Any, variable: str, pinned: Any = False) -> Adapter:
    if not isinstance(source, str) or not source.strip():
        raise EngineConfigError(f"{variable}: adapter {name!r} has no path or hub id")
    source = source.strip()
    if name is None:
        name = source.rstrip("/").rsplit("/", 1)[-1]
    return Adapter(_check_name(name, variable), source, pinned=pinned is True)


def _from_json(value: Any, variable: str) -> list[Adapter]:
    if isinstance(value, dict) and ("name" in value or "lora_name" in value):
        value = [value]
    if isinstance(value, dict):
        return [_entry(name, source, variable) for name, source in value.items()]
    if not isinstance(value, list):
        raise EngineConfigError(f"{variable} must be a JSON list of adapters or an object")
    entries = []
    for item in value:
        if not isinstance(item, dict):
            raise EngineConfigError(f"{variable}: each adapter must be a JSON object, got "
                                    f"{type(item).__name__}")
        entries.append(_entry(item.get("lora_name", item.get("name")),
                              item.get("lora_path", item.get("path")), variable,
                              item.get("pinned", False)))
    return entries


def _parse(raw: str, variable: str) -> list[Adapter]:
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return _from_json(json.loads(text), variable)
        except ValueError as exc:
            raise EngineConfigError(f"{variable} is not valid JSON: {exc}") from None
    entries = []
    for token in re.split(r"[\s,]+", text):
        if token:
            name, _, source = token.rpartition("=") if "=" in token else ("", "", token)
            entries.append(_entry(name or None, source, variable))
    return entries


def parse_adapters(adapters: str, modules: str) -> tuple[Adapter, ...]:
    """The configured adapters (see the module contract); empty when none is set."""
    if adapters.strip() and modules.strip():
        raise EngineConfigError("LORA_ADAPTERS and LORA_MODULES are both set: keep one "
                                "(LORA_MODULES is worker-vllm's name for the same list)")
    variable, raw = ("LORA_MODULES", modules) if modules.strip() else ("LORA_ADAPTERS", adapters)
    found = _parse(raw, variable) if raw.strip() else []
    seen: set[str] = set()
    for adapter in found:
        if adapter.name in seen:
            raise EngineConfigError(f"{variable}: adapter name {adapter.name!r} is given twice")
        seen.add(adapter.name)
    return tuple(found)


def _token(env: Mapping[str, str]) -> str | None:
    return env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None


def _hub_cause(adapter: Adapter, exc: Exception, token: bool) -> str:
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"LoRA adapter {adapter.name!r} ({adapter.source!r})"
    if isinstance(exc, HFValidationError):
        return (f"{what} is neither a local directory nor a Hugging Face id "
                "(organisation/name): check LORA_ADAPTERS")
    if isinstance(exc, GatedRepoError):
        who = "HF_TOKEN may not read it" if token else "no HF_TOKEN is set"
        return (f"{what} is a gated repository on Hugging Face and {who}: accept its terms on "
                "the adapter's page, then set HF_TOKEN to a read token of that account")
    if isinstance(exc, RevisionNotFoundError | RepositoryNotFoundError):
        private = " or HF_TOKEN may not read it" if token else \
            "; if it is private, set HF_TOKEN to a token that may read it"
        return f"{what} was not found on Hugging Face{private}: check LORA_ADAPTERS"
    return (f"{what} could not be fetched from Hugging Face ({type(exc).__name__}) and is not "
            "in the cache: check the network, or bake or cache the adapter")


def resolve_adapter(adapter: Adapter, env: Mapping[str, str]) -> Adapter:
    """The adapter with its local directory (see the module contract)."""
    local = Path(adapter.source).expanduser()
    if local.is_dir():
        return replace(adapter, path=str(local.resolve()))
    if adapter.source.startswith(("/", "./", "../", "~")):
        raise EngineConfigError(f"LoRA adapter {adapter.name!r}: the directory "
                                f"{adapter.source!r} does not exist")
    from huggingface_hub import hf_hub_download

    token = _token(env)
    offline = env.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    paths = []
    for filename in ADAPTER_FILES:
        try:
            paths.append(hf_hub_download(
                adapter.source, filename, cache_dir=hub_cache(env), token=token,
                endpoint=env.get("HF_ENDPOINT") or None, local_files_only=offline))
        except Exception as exc:  # every hub failure becomes one stated cause
            raise EngineConfigError(_hub_cause(adapter, exc, bool(token))) from None
    return replace(adapter, path=str(Path(paths[0]).parent))


def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Each tensor's shape from a safetensors file's header, without loading any tensor."""
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        if length > 100_000_000:
            raise ValueError("the header is implausibly large")
        header = json.loads(file.read(length))
    return {name: entry["shape"] for name, entry in header.items() if name != "__metadata__"}


def base_key(name: str) -> str:
    """A model name reduced for comparison (see the module contract)."""
    text = name.strip().rstrip("/")
    hub = re.search(r"models--[^/]+--([^/]+)(?:/snapshots/[^/]+)?$", text)
    last = hub.group(1) if hub else text.rsplit("/", 1)[-1]
    return _QUANTIZED.sub("", last.lower())


def layer_dims(config: Mapping[str, Any]) -> tuple[int, dict[str, tuple[int, int]]]:
    """The text model's layer count and each projection's (in, out) size from ``config.json``."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    hidden, heads = text["hidden_size"], text["num_attention_heads"]
    head_dim = text.get("head_dim") or hidden // heads
    q, kv = heads * head_dim, text.get("num_key_value_heads", heads) * head_dim
    inter = text["intermediate_size"]
    return text["num_hidden_layers"], {
        "q_proj": (hidden, q), "k_proj": (hidden, kv), "v_proj": (hidden, kv),
        "o_proj": (q, hidden), "gate_proj": (hidden, inter), "up_proj": (hidden, inter),
        "down_proj": (inter, hidden)}


def _check_tensors(what: str, shapes: Mapping[str, list[int]], rank: int,
                   base_config: Mapping[str, Any] | None) -> None:
    """Each LoRA tensor fits the rank, and (with the base's config) the base model's layer."""
    dims: dict[str, tuple[int, int]] = {}
    layers = None
    if base_config:
        try:
            layers, dims = layer_dims(base_config)
        except (KeyError, TypeError, ZeroDivisionError):
            log.warning("%s: the base model's config gives no layer sizes; only the rank of its "
                        "tensors is checked", what)
    for name, shape in shapes.items():
        found = _TENSOR.search(name)
        if not found:
            continue
        layer, module, half = int(found.group(1)), found.group(2), found.group(3)
        shape = list(shape)
        fits = len(shape) == 2 and shape[0 if half == "A" else 1] == rank
        expected = None
        if module in dims:
            size_in, size_out = dims[module]
            expected = [rank, size_in] if half == "A" else [size_out, rank]
            fits = fits and shape == expected and (layers is None or layer < layers)
        if not fits:
            needs = f"needs {expected}" if expected else f"needs rank {rank} in its lora_{half}"
            raise EngineConfigError(
                f"{what}: tensor {name} has shape {shape}, but rank {rank} on this base model "
                f"{needs}: the adapter's files do not match its adapter_config.json or were "
                "made for another model")


def check_adapter(adapter: Adapter, base_config: Mapping[str, Any] | None,
                  base_names: Sequence[str], max_rank: int | None) -> int:
    """Refuse an adapter that cannot serve on this base model; return its rank."""
    what = f"LoRA adapter {adapter.name!r} ({adapter.source})"
    directory = Path(adapter.path or adapter.source)
    try:
        config = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineConfigError(f"{what} has no readable adapter_config.json "
                                f"({type(exc).__name__}): is it a PEFT LoRA adapter?") from None
    kind = config.get("peft_type") if isinstance(config, dict) else None
    if str(kind).upper() != "LORA":
        raise EngineConfigError(f"{what} is not a LoRA adapter (peft_type {kind!r})")
    rank = config.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise EngineConfigError(f"{what}: adapter_config.json has no valid rank r ({rank!r})")
    declared = config.get("base_model_name_or_path")
    if isinstance(declared, str) and declared.strip():
        if base_key(declared) not in {base_key(name) for name in base_names if name}:
            raise EngineConfigError(
                f"{what} was made for base model {declared!r}, not for the model served here "
                f"({base_names[0]!r}): serve it over its own base model")
    else:
        log.warning("%s names no base model; it is checked against the base's shapes only", what)
    if max_rank and rank > max_rank:
        raise EngineConfigError(f"{what} has rank {rank}, over MAX_LORA_RANK={max_rank}: "
                                "raise MAX_LORA_RANK or leave it unset")
    weights = directory / "adapter_model.safetensors"
    try:
        shapes = safetensors_shapes(weights)
    except (OSError, ValueError, struct.error) as exc:
        raise EngineConfigError(f"{what} has no readable adapter_model.safetensors "
                                f"({type(exc).__name__}); only safetensors adapters are "
                                "served") from None
    _check_tensors(what, shapes, rank, base_config)
    return rank


def refuse_unchecked(extra_args: Sequence[str], env: Mapping[str, str]) -> None:
    flags = [arg.split("=", 1)[0] for arg in extra_args if arg.startswith("--")]
    given = [f for f in ("--lora-paths", "--enable-lora") if f in flags]
    if env.get("LORA_PATHS", "").strip():
        given.append("LORA_PATHS")
    if env.get("ENABLE_LORA", "").strip().lower() in ("1", "true", "yes", "on"):
        given.append("ENABLE_LORA")
    if given:
        raise EngineConfigError(
            f"{' and '.join(given)} would load LoRA adapters unchecked: list them in "
            "LORA_ADAPTERS instead (name=hub-id-or-path ...), which checks each against the "
            "base model and serves it by name")


def lora_flags(adapters: Sequence[Adapter], settings: Settings, *, cpu: bool,
               ranks: Sequence[int]) -> list[str]:
    """SGLang's flags for the checked adapters (see the module contract)."""
    if not adapters:
        return []
    flags = ["--enable-lora", "--lora-paths",
             *(json.dumps({"lora_name": a.name, "lora_path": a.path, "pinned": True})
               if a.pinned else f"{a.name}={a.path}" for a in adapters),
             "--max-loras-per-batch", str(settings.max_loras_per_batch),
             "--max-lora-rank", str(settings.max_lora_rank or max(ranks))]
    backend = settings.lora_backend or ("torch_native" if cpu else None)
    return flags + (["--lora-backend", backend] if backend else [])
