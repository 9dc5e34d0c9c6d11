"""Stand-in ``sgl_kernel`` for running SGLang on a CPU-only machine.

Why this exists: with ``SGLANG_USE_CPU_ENGINE=1`` about fifteen SGLang modules import names
from ``sgl_kernel`` (or its submodules such as ``sgl_kernel.kvcacheio``) at import time, and some
look up ``torch.ops.sgl_kernel.<name>``. The CPU build of sgl-kernel is not published on PyPI and
the published wheels are CUDA builds, so without this package the server cannot even import.

Contract:
- Any name imported from ``sgl_kernel`` or from any ``sgl_kernel.<submodule>`` is a placeholder.
- Importing this package also installs ``torch.ops.sgl_kernel``. Its ops named ``*_cpu`` (the
  CPU build's naming), ``flash_attn_varlen_func`` and ``init_cpu_threads_env`` are placeholders.
  Any other op is absent: SGLang registers a fake (meta) implementation for each ``sgl_kernel``
  op that ``hasattr`` finds (``gptq_marlin_repack``, ``fp8_scaled_mm``, ...), and torch refuses
  that for anything that is not a real operator.
- A placeholder raises ``NotImplementedError`` naming the missing kernel, but only when called.
  Serving a dense model on a CPU without AMX calls none of them (SGLang uses its pure-torch
  paths); a feature that does need a kernel fails loudly instead of silently.
- The names in ``PROBED_NAMES`` stay absent (``hasattr`` is False, ``from ... import`` raises
  ImportError): SGLang probes them to switch on fused or AMX code paths that would then call
  into kernels that do not exist here.

It is installed only into the CPU development environment by builder/setup_cpu_env.sh, never
into the GPU image.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

import torch

PROBED_NAMES = frozenset(
    {
        "convert_weight_packed",
        "fused_qk_norm_cpu",
        "fused_qk_norm_rope_cpu",
        "gdn_attention",
        "get_device_accessible_ptr",
        "shm_group_initialize",
        "transfer_embedding_ranges_direct",
    }
)

# Ops of the CPU build that SGLang fetches by a name without the ``_cpu`` suffix.
CPU_OPS_WITHOUT_SUFFIX = frozenset({"flash_attn_varlen_func", "init_cpu_threads_env"})

__version__ = "0.0.0+cpu.placeholder"


class MissingKernel:
    """A kernel that is not available on this machine: fails when called, not when imported."""

    def __init__(self, qualified_name: str) -> None:
        self._qualified_name = qualified_name

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError(
            f"SGLang called the kernel {self._qualified_name!r}, which the CPU placeholder "
            "sgl_kernel package does not provide (no CPU build of sgl-kernel is installed)."
        )

    def __getattr__(self, name: str) -> MissingKernel:
        # Covers ``op.default`` overloads and attribute chains such as ``scalar_types.uint4b8``.
        if name.startswith("__"):
            raise AttributeError(name)
        return MissingKernel(f"{self._qualified_name}.{name}")

    def __repr__(self) -> str:
        return f"<missing kernel {self._qualified_name}>"


def _missing_attribute(owner: str, name: str) -> MissingKernel:
    if name.startswith("__") or name in PROBED_NAMES:
        raise AttributeError(f"{owner!r} has no attribute {name!r}")
    return MissingKernel(f"{owner}.{name}")


def __getattr__(name: str) -> MissingKernel:
    return _missing_attribute(__name__, name)


class _PlaceholderModule(types.ModuleType):
    """A submodule such as ``sgl_kernel.kvcacheio`` whose every attribute is a placeholder."""

    def __getattr__(self, name: str) -> MissingKernel:
        return _missing_attribute(self.__name__, name)


class _SubmoduleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers ``import sgl_kernel.<anything>`` with a placeholder module."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(__name__ + "."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _PlaceholderModule(spec.name)

    def exec_module(self, module):
        module.__path__ = []


class _PlaceholderOpNamespace:
    """Replaces ``torch.ops.sgl_kernel``; see the module docstring for which ops exist."""

    name = "sgl_kernel"

    def __getattr__(self, name: str) -> MissingKernel:
        if not (name.endswith("_cpu") or name in CPU_OPS_WITHOUT_SUFFIX):
            raise AttributeError(f"'torch.ops.sgl_kernel' has no op {name!r}")
        return _missing_attribute("torch.ops.sgl_kernel", name)


sys.meta_path.append(_SubmoduleFinder())
torch.ops.sgl_kernel = _PlaceholderOpNamespace()
