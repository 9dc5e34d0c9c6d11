"""Which model the engine serves, where its files come from, and the device it runs on.

Contract, in the order the rules apply at start-up (``resolve_model_source``):
1. **A baked model.** When ``BAKED_MODEL_MANIFEST`` exists (``/models/manifest.json``, written
   at image build time by ``builder/download_model.py``), its model is served whatever
   ``MODEL_NAME`` says; a different ``MODEL_NAME`` is logged as ignored. The engine's
   environment gets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``, so a cold start never
   touches the network. The manifest's tokenizer directory replaces ``TOKENIZER_NAME`` and
   ``TOKENIZER_PATH``; ``MODEL_REVISION`` and ``REVISION`` are dropped (the baked files are one
   revision already); ``QUANTIZATION`` and ``SERVED_MODEL_NAME`` default to the manifest's
   quantization and to the name the model was baked from, so clients see
   ``Qwen/Qwen2.5-VL-7B-Instruct`` rather than a directory. A manifest that cannot be read, or
   that names a missing directory, stops the worker at start.
2. **A local path** in ``MODEL_NAME`` (it exists on disk) is used as is and nothing else
   changes. A ``MODEL_NAME`` that is written as a path (``/``, ``./``, ``../``, ``~``) but does
   not exist stops the worker: most often a network volume that is not attached.
3. **A hub id with a network volume** (a directory at ``BASE_PATH``, ``/runpod-volume``): the
   engine's ``HF_HOME`` is ``BASE_PATH/huggingface-cache``, so the first worker downloads the
   model and every later one reads it from the volume. A cache location the user chose
   (``HF_HOME``, ``HF_HUB_CACHE`` or ``HUGGINGFACE_HUB_CACHE`` set) is kept.
4. **A hub id without a volume** is downloaded to the container disk on every cold start; a
   warning says what that costs and how to avoid it.
5. **No model at all**: on a machine without a GPU, the project's tiny Qwen2-VL, built on first
   use by ``engine/tiny_model.py`` (a few seconds, no download). On a GPU the worker
   refuses to start: guessing a multi-GB model to download would surprise everyone.

``plan_model_source`` holds these decisions as a pure function of the settings, the
environment and ``StorageFacts`` (what is on disk); ``gather_storage_facts`` reads the disk and
the manifest; ``resolve_model_source`` ties them together, logs the plan and builds the tiny
model when it is needed. ``ModelSource.apply`` turns a plan into the engine's environment.
``has_cuda_gpu()`` answers without importing torch: an NVIDIA driver that lists a GPU.

Once the engine is up, the model's own files answer questions about it (``model_json``: a
local directory or the hub cache the engine filled, never the network): ``vocab_size`` and
``model_type`` from ``config.json``, the image processor's ``preprocessor_config.json``, and
``mm_image_config``, the image settings of the ``--mm-process-config`` the engine was given,
which SGLang passes to every image-processor call.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)

TINY_MODEL_BUILDER = "sglang_worker.engine.tiny_model"
MANIFEST_FORMAT = 1
VOLUME_HF_HOME = "huggingface-cache"  # under BASE_PATH; the upstream workers' cache is here too
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# A user who points the cache somewhere has decided where downloads go.
CACHE_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
PATH_PREFIXES = ("/", "./", "../", "~")
MM_PROCESS_CONFIG_FLAG = "--mm-process-config"

Origin = Literal["baked", "local", "volume", "container-disk", "tiny"]


@dataclass(frozen=True, slots=True)
class BakedModel:
    """What ``builder/download_model.py`` recorded in the manifest."""

    model_name: str  # what was baked: a hub id, or the local directory it was copied from
    model_path: str  # the directory in the image that holds the weights
    tokenizer_name: str | None
    tokenizer_path: str | None  # None: the tokenizer is in model_path
    revision: str | None  # as asked for at build time
    commit: str | None  # the hub commit the files came from, when known
    quantization: str | None
    downloaded_at: str


@dataclass(frozen=True, slots=True)
class StorageFacts:
    """What is on this machine's disk, as far as the model choice is concerned."""

    baked: BakedModel | None
    volume_mounted: bool
    model_name_exists: bool  # MODEL_NAME names an existing file or directory


@dataclass(frozen=True, slots=True)
class ModelSource:
    """The model the engine serves and what its environment needs for it."""

    model_path: str
    origin: Origin
    set_env: Mapping[str, str] = field(default_factory=dict)
    unset_env: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def apply(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with this source's variables removed, then set."""
        result = {k: v for k, v in env.items() if k not in self.unset_env}
        result.update(self.set_env)
        return result


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


def read_manifest(path: Path) -> BakedModel | None:
    """The baked model recorded at ``path``; None when there is no manifest.

    A manifest that exists but is unusable raises ``EngineConfigError``: an image built to
    serve one model must never quietly fall back to downloading another.
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineConfigError(f"the baked-model manifest {path} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise EngineConfigError(
            f"the baked-model manifest {path} is not format {MANIFEST_FORMAT}; rebuild the "
            "image with this worker's builder/download_model.py")
    values = {f.name: data.get(f.name) for f in fields(BakedModel)}
    if not all(isinstance(v, str) for k, v in values.items() if v is not None) or not (
            values["model_name"] and values["model_path"]):
        raise EngineConfigError(f"the baked-model manifest {path} names no model, or has a "
                                "value that is not a string")
    baked = BakedModel(**values)
    for name in ("model_path", "tokenizer_path"):
        where = getattr(baked, name)
        if where is not None and not Path(where).is_dir():
            raise EngineConfigError(
                f"the baked-model manifest {path} points at {where} ({name}), which is not a "
                "directory in this image")
    return baked


def gather_storage_facts(settings: Settings) -> StorageFacts:
    name = settings.model_name
    return StorageFacts(
        baked=read_manifest(settings.baked_model_manifest),
        volume_mounted=settings.base_path.is_dir(),
        model_name_exists=bool(name) and Path(name).expanduser().exists(),
    )


# What a baked model's own files decide, so the engine must not get them from the environment.
_BAKED_IGNORES = ("MODEL_REVISION", "REVISION", "TOKENIZER_NAME", "TOKENIZER_PATH")


def _baked_source(settings: Settings, baked: BakedModel, env: Mapping[str, str]) -> ModelSource:
    set_env = dict(OFFLINE)
    unset = set(_BAKED_IGNORES)
    if baked.tokenizer_path:
        set_env["TOKENIZER_NAME"] = baked.tokenizer_path
    if baked.quantization and not env.get("QUANTIZATION"):
        set_env["QUANTIZATION"] = baked.quantization
    if not env.get("SERVED_MODEL_NAME"):
        set_env["SERVED_MODEL_NAME"] = baked.model_name
    where = f"revision {baked.revision or 'main'}" + (
        f", commit {baked.commit}" if baked.commit else "")
    notes = [f"serving the model baked into this image: {baked.model_name} ({where}) from "
             f"{baked.model_path}; Hugging Face is offline (HF_HUB_OFFLINE=1, "
             "TRANSFORMERS_OFFLINE=1), so this cold start downloads nothing"]
    warnings = []
    if settings.model_name and settings.model_name not in (baked.model_name, baked.model_path):
        warnings.append(f"MODEL_NAME={settings.model_name} is ignored: this image serves its "
                        f"baked model {baked.model_name} ({settings.baked_model_manifest})")
    for name in _BAKED_IGNORES:
        if env.get(name) and env.get(name) != set_env.get(name):
            warnings.append(f"{name}={env[name]} is ignored: the baked model's files are used")
    if baked.quantization and env.get("QUANTIZATION") not in (None, "", baked.quantization):
        notes.append(f"QUANTIZATION={env['QUANTIZATION']} overrides the baked model's "
                     f"{baked.quantization}")
    return ModelSource(baked.model_path, "baked", set_env, frozenset(unset), tuple(notes),
                       tuple(warnings))


def plan_model_source(
    settings: Settings, facts: StorageFacts, *, gpu: bool, env: Mapping[str, str]
) -> ModelSource:
    """The model to serve and its engine environment (the module contract's rules, in order)."""
    if facts.baked is not None:
        return _baked_source(settings, facts.baked, env)
    name = settings.model_name
    if name and facts.model_name_exists:
        path = str(Path(name).expanduser())  # SGLang does not expand "~" itself
        return ModelSource(path, "local", notes=(f"serving the local model at {path}",))
    if name and name.startswith(PATH_PREFIXES):
        raise EngineConfigError(
            f"MODEL_NAME={name} is a path, but nothing exists there. If it is on a network "
            f"volume, attach the volume to the endpoint (it is mounted at {settings.base_path}).")
    if name:
        chosen = next((var for var in CACHE_VARIABLES if env.get(var)), None)
        if chosen:
            return ModelSource(name, "volume" if facts.volume_mounted else "container-disk",
                               notes=(f"downloading {name} unless it is cached already; "
                                      f"{chosen}={env[chosen]} decides where the cache is",))
        if facts.volume_mounted:
            hf_home = str(settings.base_path / VOLUME_HF_HOME)
            return ModelSource(name, "volume", {"HF_HOME": hf_home}, notes=(
                f"network volume at {settings.base_path}: the Hugging Face cache is {hf_home} "
                f"(HF_HOME), so only the first worker downloads {name}; later cold starts "
                "read it from the volume",))
        return ModelSource(name, "container-disk", warnings=(
            f"no baked model and no network volume at {settings.base_path}: {name} is "
            "downloaded to the container disk on every cold start, which takes minutes and "
            "many GB for a large model, billed as worker time. Bake the model into the image "
            "(docker build --build-arg MODEL_NAME=...) or attach a network volume.",))
    if gpu:
        raise EngineConfigError(
            "MODEL_NAME is not set. On a GPU the worker needs a model to serve, for example "
            "MODEL_NAME=Qwen/Qwen2.5-VL-7B-Instruct (the tiny test model is for CPU-only runs)."
        )
    return ModelSource(str(settings.tiny_model_dir), "tiny",
                       notes=("no MODEL_NAME on a machine without a GPU: serving the tiny "
                              f"test model at {settings.tiny_model_dir}",))


def build_tiny_model(target: Path, *, python: str = sys.executable) -> Path:
    """Build (or reuse) the tiny test model at ``target``; the builder is idempotent."""
    done = subprocess.run(
        [python, "-m", TINY_MODEL_BUILDER, "--out", str(target)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise EngineConfigError(
            f"could not build the tiny test model in {target}: {done.stderr.strip()[-2000:]}"
        )
    return target


def resolve_model_source(settings: Settings, *, gpu: bool) -> ModelSource:
    """Decide the model from the settings, the environment and the disk; log the decision."""
    source = plan_model_source(settings, gather_storage_facts(settings), gpu=gpu,
                               env=os.environ)
    for note in source.notes:
        log.info("%s", note)
    for warning in source.warnings:
        log.warning("%s", warning)
    if source.origin == "tiny":
        build_tiny_model(Path(source.model_path))
    return source


def _hub_cache(env: Mapping[str, str]) -> str | None:
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

            cached = try_to_load_from_cache(model_path, filename, cache_dir=_hub_cache(env))
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


def mm_image_config(env: Mapping[str, str], extra_args: Sequence[str]) -> dict[str, Any]:
    """The ``image`` settings of the ``--mm-process-config`` the engine gets: from
    ``SGLANG_ARGS`` (already split; the last occurrence wins, as in SGLang's parser) or else
    ``MM_PROCESS_CONFIG``. Empty when unset or not a JSON object (SGLang's parser refuses
    malformed JSON at start-up, so that case never serves)."""
    raw = env.get("MM_PROCESS_CONFIG") or None
    for i, arg in enumerate(extra_args):
        if arg == MM_PROCESS_CONFIG_FLAG and i + 1 < len(extra_args):
            raw = extra_args[i + 1]
        elif arg.startswith(MM_PROCESS_CONFIG_FLAG + "="):
            raw = arg.split("=", 1)[1]
    try:
        config = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    image = config.get("image") if isinstance(config, dict) else None
    return image if isinstance(image, dict) else {}
