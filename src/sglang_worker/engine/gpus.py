"""The GPUs this worker was given, asked of the NVIDIA driver without importing torch.

Contract: ``parse_gpu_list(listing, cuda_visible_devices)`` is the GPUs by name from
``nvidia-smi -L`` (which lists what the container was given), cut to ``CUDA_VISIBLE_DEVICES``
when that names fewer (SGLang sees only those); ``""`` or ``-1`` there means none.
``gpu_names()`` runs ``nvidia-smi``; no driver, a failure or a timeout is no GPU. The names
choose the tensor parallelism (``parallelism``) and key the compile cache (``compile_cache``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

GPU_LINE = re.compile(r"^GPU \d+: (?P<name>.+?)(?: \(UUID: [^)]*\))?$")
SMI_TIMEOUT_S = 20


def hides_every_gpu(cuda_visible_devices: str | None) -> bool:
    return cuda_visible_devices is not None and cuda_visible_devices.strip() in ("", "-1")


def parse_gpu_list(listing: str, cuda_visible_devices: str | None) -> list[str]:
    if hides_every_gpu(cuda_visible_devices):
        return []
    names = [match["name"] for line in listing.splitlines()
             if (match := GPU_LINE.match(line.strip()))]
    if cuda_visible_devices is not None:
        names = names[:len([d for d in cuda_visible_devices.split(",") if d.strip()])]
    return names


def gpu_names() -> list[str]:
    """The GPUs this worker was given (empty on a machine without one)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hides_every_gpu(visible):
        return []  # without asking the driver, which may be slow to answer
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_gpu_list(listed.stdout, visible) if listed.returncode == 0 else []
