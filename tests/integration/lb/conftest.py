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
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.support.lb_worker import LBWorker, ping, start_lb_worker, stop


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
