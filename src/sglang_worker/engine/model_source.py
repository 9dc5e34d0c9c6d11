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
3. **A cached model.** RunPod's cached-models feature (and a network volume this worker filled
   before) holds hub downloads under ``BASE_PATH/huggingface-cache/hub`` in Hugging Face's cache
   layout, even when no network volume is attached, and that mount may be read-only. When the
   requested hub id and revision (``REVISION``, ``MODEL_REVISION`` or ``--revision`` in
   ``SGLANG_ARGS``; ``main`` by default) has a complete snapshot there (``config.json`` and its
   weights, every shard an index names), the engine loads that snapshot directory with Hugging
   Face offline, and nothing the engine does points at the mount: ``HF_HOME`` and
   ``HF_HUB_CACHE`` are not set to it, so locks, ``.no_exist`` markers, the tokenizer's and
   kernels' files go to the container disk's cache. ``SERVED_MODEL_NAME`` defaults to the hub
   id. A ``TOKENIZER_NAME`` that is another hub id keeps Hugging Face online for it.
4. **A hub id with a network volume** (a writable directory at ``BASE_PATH``,
   ``/runpod-volume``): the engine's ``HF_HOME`` is ``BASE_PATH/huggingface-cache``, so the
   first worker downloads the model and every later one reads it from the volume. A cache
   location the user chose (``HF_HOME``, ``HF_HUB_CACHE`` or ``HUGGINGFACE_HUB_CACHE`` set) is
   kept. A read-only ``BASE_PATH`` (cached models without a volume) is not used for downloads.
5. **A hub id without a volume** is downloaded to the container disk on every cold start; a
   warning says what that costs and how to avoid it.
6. **No model at all**: on a machine without a GPU, the project's tiny Qwen2-VL at
   ``TINY_MODEL_DIR`` (``make models`` builds it there with the development package
   ``tiny_models``, which the image does not ship); missing, it is a start-up error that says
   how to build it. On a GPU the worker refuses to start: guessing a multi-GB model to
   download would surprise everyone.

Whatever the rule, when the engine's hub cache is not the image's (``HF_HOME`` or
``HF_HUB_CACHE`` moved), ``KERNELS_CACHE`` points at the image's own hub cache
(``IMAGE_HF_HUB_CACHE``), so the kernels the SGLang image pre-downloads stay reachable; see
``keep_image_kernels``.

``plan_model_source`` holds these decisions as a pure function of the settings, the
environment and ``StorageFacts`` (what is on disk); ``gather_storage_facts`` reads the disk and
the manifest; ``resolve_model_source`` ties them together, logs the plan and checks that the
tiny model is there when it is the plan. ``ModelSource.apply`` turns a plan into the engine's
environment.
The revision is the launch plan's (``launch_plan``); the model's own files, once the engine is up,
are read by ``model_files``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from sglang_worker.engine.model_files import hub_cache
from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
VOLUME_HF_HOME = "huggingface-cache"  # under BASE_PATH; the upstream workers' cache is here too
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# A user who points the cache somewhere has decided where downloads go.
CACHE_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
PATH_PREFIXES = ("/", "./", "../", "~")

# RunPod's cached models (and this worker's own downloads on a network volume), under BASE_PATH.
CACHED_MODELS_HUB = Path(VOLUME_HF_HOME) / "hub"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")

# The kernels the SGLang image pre-downloads. What is known, and what is not:
# - SGLang 0.5.23 requires `kernels>=0.14.1,<0.15`; it loads FlashAttention 3 from the Hub repo
#   `kernels-community/sgl-flash-attn3` with `kernels.load_kernel(repo, lockfile)` when
#   `$SGLANG_CACHE_DIR/kernels.lock` exists (only when SGLANG_USE_SGL_FA3_KERNEL is false; its
#   default is true) and falls back to sgl-kernel's FA3, with a warning, when that load fails.
# - kernels 0.14.1 reads its cache from `KERNELS_CACHE` (read from its source; older releases
#   read `HF_KERNELS_CACHE`) and, when that is unset, uses huggingface_hub's cache, i.e.
#   `$HF_HUB_CACHE`, by default `$HF_HOME/hub`; `load_kernel` reads it with
#   `local_files_only=True`, so a moved HF_HOME makes the pre-downloaded files invisible and the
#   load fails. Kernel repos are cached as `kernels--<org>--<name>`.
# - That the image runs `kernels download` at build time with HF_HOME unset, as root, so the
#   files are in `/root/.cache/huggingface/hub`, is read from derived images' Dockerfiles and the
#   shared notes, not from a running v0.5.23 image: unconfirmed. Hence the cautious rule in
#   `keep_image_kernels`: only when KERNELS_CACHE is unset, the engine's hub cache moved, and
#   this directory exists and holds a `kernels--*` entry.
# - Not under HF_HOME, so unaffected by it: SGLang's own cache (SGLANG_CACHE_DIR, default
#   ~/.cache/sglang, where kernels.lock is), FlashInfer's cubins and JIT cache
#   (~/.cache/flashinfer, FLASHINFER_WORKSPACE_BASE), Triton's (~/.triton, TRITON_CACHE_DIR).
IMAGE_HF_HUB_CACHE = Path("/root/.cache/huggingface/hub")
KERNELS_CACHE_VARIABLE = "KERNELS_CACHE"

Origin = Literal["baked", "local", "cached", "volume", "container-disk", "tiny"]


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
    # A complete snapshot of MODEL_NAME at the requested revision in the cached-models hub.
    cached_snapshot: Path | None = None
    volume_writable: bool = True  # False: a read-only mount at BASE_PATH (cached models only)


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
        """``env`` with this source's variables removed, then set; the image's kernels kept
        reachable (``keep_image_kernels``)."""
        result = {k: v for k, v in env.items() if k not in self.unset_env}
        result.update(self.set_env)
        return keep_image_kernels(result)


def keep_image_kernels(env: dict[str, str], image_hub: Path | None = None) -> dict[str, str]:
    """``env`` with ``KERNELS_CACHE`` at the image's hub cache when the engine's hub cache is
    elsewhere (``HF_HOME`` or ``HF_HUB_CACHE`` moved, to the network volume say) and the image's
    directory holds kernels. A ``KERNELS_CACHE`` already set is the user's choice and is kept."""
    image_hub = IMAGE_HF_HUB_CACHE if image_hub is None else image_hub
    if env.get(KERNELS_CACHE_VARIABLE):
        return env
    moved = hub_cache(env)
    if moved is None or Path(moved) == image_hub:
        return env
    try:
        has_kernels = image_hub.is_dir() and any(image_hub.glob("kernels--*"))
    except OSError:
        has_kernels = False
    if has_kernels:
        env[KERNELS_CACHE_VARIABLE] = str(image_hub)
    return env


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


def _complete(snapshot: Path) -> bool:
    """``config.json`` and weights; with an index, every shard it names (dangling symlinks to
    blobs that were never downloaded count as missing)."""
    if not (snapshot / "config.json").is_file():
        return False
    for index in WEIGHT_INDEXES:
        if (snapshot / index).is_file():
            try:
                weight_map = json.loads((snapshot / index).read_text(encoding="utf-8"))[
                    "weight_map"]
                shards = set(weight_map.values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return False
            return bool(shards) and all((snapshot / shard).is_file() for shard in shards)
    return any(path.is_file() for pattern in WEIGHT_PATTERNS for path in snapshot.glob(pattern))


def find_cached_snapshot(hub: Path, repo_id: str, revision: str | None) -> Path | None:
    """The complete snapshot of ``repo_id`` at ``revision`` (a branch, tag or commit; None:
    ``main``) in the Hugging Face cache ``hub``; None when there is none. Only reads."""
    if repo_id.count("/") != 1 or repo_id.startswith(PATH_PREFIXES):
        return None
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    revision = revision or "main"
    try:
        ref = repo / "refs" / revision
        commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else revision
        snapshot = repo / "snapshots" / commit
        if "/" in commit or not snapshot.is_dir():
            return None
        return snapshot if _complete(snapshot) else None
    except OSError:
        return None


def _writable(path: Path) -> bool:
    cache = path / VOLUME_HF_HOME
    return os.access(cache if cache.is_dir() else path, os.W_OK)


def gather_storage_facts(settings: Settings, revision: str | None = None) -> StorageFacts:
    """What is on disk for the model, the cached snapshot at ``revision`` (the launch plan's)."""
    name = settings.model_name
    mounted = settings.base_path.is_dir()
    cached = None
    if name and mounted:
        cached = find_cached_snapshot(settings.base_path / CACHED_MODELS_HUB, name, revision)
    return StorageFacts(
        baked=read_manifest(settings.baked_model_manifest),
        volume_mounted=mounted,
        model_name_exists=bool(name) and Path(name).expanduser().exists(),
        cached_snapshot=cached,
        volume_writable=not mounted or _writable(settings.base_path),
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


def _cached_source(name: str, snapshot: Path, env: Mapping[str, str]) -> ModelSource:
    set_env: dict[str, str] = {}
    unset = {"MODEL_REVISION", "REVISION"}  # the snapshot is that revision already
    if not env.get("SERVED_MODEL_NAME"):
        set_env["SERVED_MODEL_NAME"] = name
    notes = [f"serving {name} from the cached models at {snapshot} (read only: nothing is "
             "written there)"]
    tokenizer = next((env[var] for var in ("TOKENIZER_NAME", "TOKENIZER_PATH")
                      if env.get(var)), None)
    online_for = None
    if tokenizer == name:
        set_env["TOKENIZER_NAME"] = str(snapshot)
        unset.add("TOKENIZER_PATH")
    elif tokenizer and not Path(tokenizer).expanduser().exists():
        online_for = tokenizer
    if online_for:
        notes.append(f"Hugging Face stays online for the tokenizer {online_for}, downloaded "
                     "to the container disk's cache")
    else:
        set_env.update(OFFLINE)
        notes.append("Hugging Face is offline (HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1): "
                     "this cold start downloads nothing")
    return ModelSource(str(snapshot), "cached", set_env, frozenset(unset), tuple(notes))


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
    if name and facts.cached_snapshot is not None:
        return _cached_source(name, facts.cached_snapshot, env)
    if name:
        chosen = next((var for var in CACHE_VARIABLES if env.get(var)), None)
        if chosen:
            return ModelSource(name, "volume" if facts.volume_mounted else "container-disk",
                               notes=(f"downloading {name} unless it is cached already; "
                                      f"{chosen}={env[chosen]} decides where the cache is",))
        if facts.volume_mounted and facts.volume_writable:
            hf_home = str(settings.base_path / VOLUME_HF_HOME)
            return ModelSource(name, "volume", {"HF_HOME": hf_home}, notes=(
                f"network volume at {settings.base_path}: the Hugging Face cache is {hf_home} "
                f"(HF_HOME), so only the first worker downloads {name}; later cold starts "
                "read it from the volume",))
        where = (f"{settings.base_path} is read-only (cached models, no network volume) and "
                 f"does not hold {name}" if facts.volume_mounted
                 else f"no network volume at {settings.base_path}")
        return ModelSource(name, "container-disk", warnings=(
            f"no baked model and {where}: {name} is "
            "downloaded to the container disk on every cold start, which takes minutes and "
            "many GB for a large model, billed as worker time. Bake the model into the image "
            "(docker build --build-arg MODEL_NAME=...), select it as the endpoint's cached "
            "model, or attach a network volume.",))
    if gpu:
        raise EngineConfigError(
            "MODEL_NAME is not set. On a GPU the worker needs a model to serve, for example "
            "MODEL_NAME=Qwen/Qwen2.5-VL-7B-Instruct (the tiny test model is for CPU-only runs)."
        )
    tiny = settings.tiny_model_dir.absolute()  # served under its absolute path, as a given one
    return ModelSource(str(tiny), "tiny", notes=(
        f"no MODEL_NAME on a machine without a GPU: serving the tiny test model at {tiny}",))


def check_tiny_model(target: Path) -> None:
    """The tiny test model is a development artefact: built by ``make models``, never here."""
    if not (target / "config.json").is_file():
        raise EngineConfigError(
            f"MODEL_NAME is not set and there is no tiny test model at {target} "
            "(TINY_MODEL_DIR): on a machine without a GPU, build it with `make models` in the "
            "checkout, or set MODEL_NAME to the model to serve")


def resolve_model_source(settings: Settings, *, gpu: bool,
                         revision: str | None = None) -> ModelSource:
    """Decide the model from the settings, the environment and the disk (``revision``: the
    launch plan's); log the decision."""
    source = plan_model_source(settings, gather_storage_facts(settings, revision), gpu=gpu,
                               env=os.environ)
    for note in source.notes:
        log.info("%s", note)
    for warning in source.warnings:
        log.warning("%s", warning)
    if source.origin == "tiny":
        check_tiny_model(Path(source.model_path))
    return source
