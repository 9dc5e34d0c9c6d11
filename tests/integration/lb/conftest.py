"""ONE worker in load-balancing mode per test package, started as RunPod starts it:
``python handler.py`` with ``WORKER_MODE=lb``, its own SGLang server serving the tiny Qwen2-VL,
the API on a free loopback port. Package-scoped, like the local endpoint, because an idle
SGLang CPU scheduler keeps a core busy.

While it starts, the fixture polls ``/ping`` and keeps every answer, so a test can check what
RunPod would have seen. SGLang's port is chosen here (``ENGINE_PORT``), so tests can read its
live load at ``/v1/loads``. If the worker cannot start, every test here fails with its output;
nothing skips.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sglang_worker.settings import PROJECT_ROOT
from tests.support.ports import free_port

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

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def engine_requests(self) -> int:
        """SGLang's live count of requests running or waiting (``/v1/loads``)."""
        with urllib.request.urlopen(f"{self.engine_url}/v1/loads", timeout=5) as response:
            loads = json.loads(response.read())["loads"]
        return sum(rank["num_running_reqs"] + rank["num_waiting_reqs"] for rank in loads)


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


def stream_during_sigterm(worker: LBWorker) -> tuple[str, int]:
    """A stream in flight when SIGTERM arrives: its whole text and the worker's exit code."""
    body = json.dumps({"messages": [{"role": "user", "content": "Count."}], "max_tokens": 100,
                       "ignore_eos": True, "stream": True}).encode()
    request = urllib.request.Request(f"{worker.url}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        first = response.readline()
        worker.process.send_signal(signal.SIGTERM)
        text = (first + response.read()).decode()
    return text, worker.process.wait(120)


@pytest.fixture(scope="package")
def lb_worker(tiny_vl_model: Path, tmp_path_factory) -> LBWorker:
    worker = start_lb_worker(tiny_vl_model, tmp_path_factory.mktemp("lb") / "worker.log")
    try:
        yield worker
        # SIGTERM drains: the stream in flight finishes, the engine stops, the worker exits 0.
        text, code = stream_during_sigterm(worker)
        assert text.endswith("data: [DONE]\n\n"), text[-500:]
        assert code == 0, worker.log()[-3000:]
        assert ping(worker.url) is None  # nothing listens any more
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{worker.engine_url}/health", timeout=5)
    finally:
        stop(worker)
