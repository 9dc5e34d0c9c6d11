"""The SGLang server of a worker started as its own process: its launcher child."""

from __future__ import annotations

import psutil


def engine_pid(worker_pid: int) -> int:
    """The pid of the worker's engine process (also its process group)."""
    for child in psutil.Process(worker_pid).children():
        if "sglang_worker.engine.launcher" in " ".join(child.cmdline()):
            return child.pid
    raise AssertionError("the worker has no SGLang child process")
