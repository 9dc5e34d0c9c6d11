"""Warm starts: the engines' JIT and compile caches on the network volume.

Contract:
- SGLang 0.5.23 roots every compile cache it knows at ``SGLANG_CACHE_DIR`` (``sglang`` sets
  the defaults at import: Triton, TorchInductor, CUDA's PTX cache, FlashInfer's JIT workspace,
  TileLang, DeepGEMM, its own JIT kernels and CuTe AOT objects); tvm-ffi's builds go to
  ``TVM_FFI_CACHE_DIR``. ``plan_compile_cache`` returns those two variables, or none.
- Where: ``COMPILE_CACHE_DIR`` if set, else ``BASE_PATH/sglang-compile-cache`` when the network
  volume is mounted (``BASE_PATH`` is a directory); otherwise nothing changes and the caches
  stay in the container (``~/.cache/sglang``). Under it, one directory per ``cache_key``: the GPU
  model, the SGLang version and the torch build (its CUDA version), so a worker on another GPU
  type or image never loads another's kernels.
- Before it is used, the directory is created and a file written, read back and removed there
  (``probe``; a directory whose mode grants no write, as a read-only cached-models mount shows,
  is not written at all), and the filesystem must have ``COMPILE_CACHE_MIN_FREE_BYTES`` free.
  A read-only, full or unwritable volume keeps the caches in the container, with a warning
  saying why.
- A ``SGLANG_CACHE_DIR`` the deployer set is theirs: nothing changes. Any one cache variable
  they set (``TRITON_CACHE_DIR``, ...) still wins, since SGLang only fills in the unset ones.
- Concurrent workers share the directory; the compilers write each entry to a temporary name
  and rename it into place, so a reader sees a whole entry or none. A worker starting while
  another compiles the same kernel may compile it too.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

CACHE_VARIABLE = "SGLANG_CACHE_DIR"
TVM_FFI_VARIABLE = "TVM_FFI_CACHE_DIR"
VOLUME_SUBDIR = "sglang-compile-cache"


@dataclass(frozen=True, slots=True)
class CachePlan:
    env: dict[str, str]  # the variables to set (empty: the container's own caches)
    message: str  # the start-up log line
    warning: bool = False


def cache_key(gpu: str | None, sglang_version: str, torch_version: str) -> str:
    """A directory name for one GPU model and one build of the engine, e.g.
    ``nvidia-h100-80gb-hbm3_sglang-0.5.23_torch-2.9.1+cu130``."""
    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9.+]+", "-", text.lower()).strip("-") or "unknown"

    return f"{slug(gpu or 'cpu')}_sglang-{slug(sglang_version)}_torch-{slug(torch_version)}"


def _read_only(directory: Path) -> bool:
    """The nearest existing directory grants no write at all: its mode says read-only, which
    is respected even by root, whom the mode bits would not stop."""
    existing = next((p for p in (directory, *directory.parents) if p.exists()), None)
    if existing is None:
        return False
    return not os.access(existing, os.W_OK) or not stat.S_IMODE(existing.stat().st_mode) & 0o222


def probe(directory: Path, min_free_bytes: int) -> str | None:
    """None when ``directory`` can hold the caches; else why not."""
    if _read_only(directory):
        return "it is read-only"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        marker = directory / f".write-probe-{uuid.uuid4().hex}"
        marker.write_bytes(b"probe")
        try:
            if marker.read_bytes() != b"probe":
                return "a file written there did not read back"
        finally:
            marker.unlink()
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return f"it is not writable ({exc.strerror or exc})"
    if free < min_free_bytes:
        return (f"only {free / 2**30:.1f} GiB is free there (COMPILE_CACHE_MIN_FREE_BYTES is "
                f"{min_free_bytes / 2**30:.1f} GiB)")
    return None


def plan_compile_cache(env: Mapping[str, str], *, configured: Path | None, base_path: Path,
                       key: str, min_free_bytes: int,
                       check: Callable[[Path, int], str | None] = probe) -> CachePlan:
    if env.get(CACHE_VARIABLE, "").strip():
        return CachePlan({}, f"compile caches: {CACHE_VARIABLE} as set ({env[CACHE_VARIABLE]})")
    if configured is not None:
        root = configured
    elif base_path.is_dir():
        root = base_path / VOLUME_SUBDIR
    else:
        return CachePlan({}, "compile caches: in the container (no network volume at "
                             f"{base_path}); each new worker compiles its kernels again")
    directory = root / key
    problem = check(directory, min_free_bytes)
    if problem is not None:
        return CachePlan({}, f"compile caches: kept in the container, not at {directory}: "
                             f"{problem}", warning=True)
    updates = {CACHE_VARIABLE: str(directory)}
    if not env.get(TVM_FFI_VARIABLE, "").strip():
        updates[TVM_FFI_VARIABLE] = str(directory / "tvm-ffi")
    return CachePlan(updates, f"compile caches: {directory}")


def installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "none"


def compile_cache_env(env: Mapping[str, str], *, configured: Path | None, base_path: Path,
                      gpu: str | None, min_free_bytes: int) -> CachePlan:
    """``plan_compile_cache`` for this machine: its GPU and its installed engine."""
    key = cache_key(gpu, installed_version("sglang"), installed_version("torch"))
    return plan_compile_cache(env, configured=configured, base_path=base_path, key=key,
                              min_free_bytes=min_free_bytes)

