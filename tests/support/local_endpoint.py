"""A local endpoint (``python -m runpod_local``) as a process: its own worker (``python
handler.py``, the RunPod SDK's real job loop) and that worker's own SGLang server.

``running_local_endpoint(model, log_path, **env)`` starts one, waits until a worker is idle,
yields it and stops it with SIGTERM, asserting that it stopped cleanly and took its engine with
it. The engine's port is chosen here and handed down through ``ENGINE_PORT`` (a worker setting),
so tests can read SGLang's live load at ``<engine>/v1/loads`` without any debug route. If the
endpoint cannot start, the test fails with its output; nothing skips.
"""


from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT
from tests.support.ports import free_port
from tests.support.worker_jobs import engine_load

STARTUP_TIMEOUT_S = 600


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@dataclass
class LocalEndpoint:
    url: str  # the endpoint's root: RunPod's job API
    engine_url: str
    log_path: Path
    process: subprocess.Popen

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/openai/v1"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def engine_requests(self) -> int:
        """SGLang's live count of requests running or waiting (``/v1/loads``)."""
        return engine_load(self.engine_url)

    def wait_until(self, condition, timeout: float = 15.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.1)

    def wait_cancelled_in_worker(self, job_id: str, timeout: float = 15.0) -> None:
        """The worker's handler logged the job as cancelled (the SDK cancelled its task)."""
        self.wait_until(lambda: f"job={job_id} outcome=cancelled" in self.log(), timeout,
                        f"the worker to log job={job_id} outcome=cancelled")


def _failure(endpoint_log: Path, why: str) -> str:
    tail = endpoint_log.read_text(errors="replace")[-6000:]
    return f"the local endpoint {why}. Its output:\n{tail}"


@contextmanager
def running_local_endpoint(model: Path, log_path: Path, **extra_env: str
                           ) -> Iterator[LocalEndpoint]:
    port, engine_port = free_port(), free_port()
    env = {**os.environ, "MODEL_NAME": str(model), "SKIP_SERVER_WARMUP": "true",
           "ENGINE_PORT": str(engine_port), **extra_env}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runpod_local", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = LocalEndpoint(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{engine_port}",
                             log_path, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(_failure(log_path, f"exited with code {process.returncode}"))
            if time.monotonic() > deadline:
                pytest.fail(_failure(log_path, f"was not ready after {STARTUP_TIMEOUT_S} s"))
            try:
                if _get_json(f"{endpoint.url}/health")["workers"]["idle"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        yield endpoint
    finally:
        stopped_cleanly = False
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                stopped_cleanly = process.wait(60) == 0
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    # SIGTERM is forwarded: the worker drains, stops its engine, and the endpoint exits 0.
    assert stopped_cleanly, _failure(log_path, f"did not stop cleanly ({process.returncode})")
    with pytest.raises(OSError):
        _get_json(f"{endpoint.engine_url}/health")
