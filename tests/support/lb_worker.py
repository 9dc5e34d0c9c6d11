"""A worker in load-balancing mode as a process, started as RunPod starts it: ``python
handler.py`` with ``WORKER_MODE=lb``, its own SGLang server, the API on a free loopback port.

``start_lb_worker(model, log_path, **env)`` polls ``/ping`` while it starts and keeps every
answer, so a test can check what RunPod would have seen; ``stop`` sends SIGTERM and returns the
exit code; ``running_lb_worker`` is both, around a ``with`` block. SGLang's port is chosen here
(``ENGINE_PORT``), so tests can read its live load at ``/v1/loads``. If the worker cannot
start, the test fails with its output; nothing skips.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import openai
import pytest

from tests.support.paths import PROJECT_ROOT
from tests.support.ports import free_port
from tests.support.worker_jobs import engine_load

STARTUP_TIMEOUT_S = 600


def ping(url: str) -> int | None:
    """``/ping``'s status, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@dataclass
class LBWorker:
    url: str
    engine_url: str
    log_path: Path
    process: subprocess.Popen
    pings: list[int | None] = field(default_factory=list)

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def openai_client(self) -> openai.AsyncOpenAI:
        """The OpenAI SDK pointed at this worker, without retries (a retry would hide a 5xx)."""
        return openai.AsyncOpenAI(base_url=self.openai_base_url, api_key="unused",
                                  max_retries=0, timeout=120)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def engine_requests(self) -> int:
        """SGLang's live count of requests running or waiting (``/v1/loads``)."""
        return engine_load(self.engine_url)


def start_lb_worker(model: Path, log_path: Path, **env: str) -> LBWorker:
    port, engine_port = free_port(), free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "handler.py"], cwd=PROJECT_ROOT,
            env={**os.environ, "WORKER_MODE": "lb", "PORT": str(port), "LB_HOST": "127.0.0.1",
                 "MODEL_NAME": str(model), "ENGINE_PORT": str(engine_port),
                 "SKIP_SERVER_WARMUP": "true", **env},
            stdout=log, stderr=subprocess.STDOUT)
    worker = LBWorker(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{engine_port}", log_path,
                      process)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"the lb worker exited with {process.returncode}:\n{worker.log()[-6000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"the lb worker was not ready in {STARTUP_TIMEOUT_S} s:\n"
                        f"{worker.log()[-6000:]}")
        worker.pings.append(ping(worker.url))
        if worker.pings[-1] == 200:
            return worker
        time.sleep(0.2)


def stop(worker: LBWorker, timeout: float = 60) -> int:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    return worker.process.returncode


@contextmanager
def running_lb_worker(model: Path, log_path: Path, **env: str) -> Iterator[LBWorker]:
    """A started worker for the ``with`` block; it must exit cleanly (0) when stopped."""
    worker = start_lb_worker(model, log_path, **env)
    try:
        yield worker
    finally:
        assert stop(worker) == 0, worker.log()[-3000:]
