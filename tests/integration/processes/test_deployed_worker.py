"""``python handler.py`` exactly as deployed: the RunPod SDK's real job loop pulling jobs from the
local endpoint's worker-facing job API (``runpod_local.job_api``), with its own
SGLang server (a text-only tiny model, so the vision refusal is exercised end to end). The test
ends by killing that engine mid-stream: the job must fail with a clear error and the worker must
exit non-zero.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image

from runpod_local.board import JobBoard
from runpod_local.job_api import WorkerJobAPI
from runpod_local.jobs import Job
from sglang_worker.pipeline.runner import ENGINE_DIED
from tests.support.paths import PROJECT_ROOT
from tests.support.worker_process import engine_pid

pytestmark = pytest.mark.integration

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
        "temperature": 0}


def png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
async def job_api():
    api = WorkerJobAPI(JobBoard())
    await api.start()
    yield api
    await api.close()


async def run_job(api: WorkerJobAPI, job_id: str, job_input: dict, timeout: float) -> Job:
    job = api.board.submit(job_input, job_id=job_id)
    assert await api.board.wait_final(job, timeout), f"job {job_id} did not finish"
    return job


@pytest.fixture
def start_worker(job_api, tmp_path):
    """``python handler.py`` as deployed, its output in ``worker.log``; killed if it outlives
    its test."""
    started: list[subprocess.Popen] = []

    def start(model: Path, **env: str) -> tuple[subprocess.Popen, Path]:
        log_path = tmp_path / "worker.log"
        with open(log_path, "wb") as log:
            started.append(subprocess.Popen(
                [sys.executable, "handler.py"], cwd=PROJECT_ROOT,
                env={**os.environ, **job_api.worker_env(), "MODEL_NAME": str(model), **env},
                stdout=log, stderr=subprocess.STDOUT))
        return started[-1], log_path

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def test_deployed_worker_serves_refuses_images_and_dies_with_its_engine(
    job_api, start_worker, tiny_text_model
):
    worker, log_path = start_worker(tiny_text_model, MAX_CONCURRENCY="4",
                                    SGLANG_ARGS="--log-level info")
    done = await run_job(job_api, "chat", {"openai_route": "/v1/chat/completions",
                                           "openai_input": CHAT}, timeout=300)
    assert done.output[0]["object"] == "chat.completion", log_path.read_text()[-3000:]

    done = await run_job(job_api, "stream", {"openai_route": "/v1/chat/completions",
                                             "openai_input": {**CHAT, "stream": True}},
                         timeout=60)
    assert "".join(done.streamed).endswith("data: [DONE]\n\n")
    assert done.output == done.streamed

    image_chat = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": png_data_url()}}]}]}
    done = await run_job(job_api, "image", {"openai_route": "/v1/chat/completions",
                                            "openai_input": image_chat}, timeout=60)
    error = json.loads(done.error)["error"]
    assert error["message"] == (
        f"Model {tiny_text_model} does not support vision (image or video) inputs")

    killed = job_api.board.submit({"openai_route": "/v1/chat/completions", "openai_input": {
        **CHAT, "max_tokens": 3000, "ignore_eos": True, "stream": True}}, job_id="killed")
    async with asyncio.timeout(60):
        while not killed.streamed:
            await asyncio.sleep(0.05)
    engine = engine_pid(worker.pid)
    # The launch (SGLANG_ARGS among it) rides in the environment, never on a world-readable
    # command line.
    assert psutil.Process(engine).cmdline()[1:] == ["-m", "sglang_worker.engine.launcher"]
    os.killpg(engine, signal.SIGKILL)
    killed_at = time.monotonic()
    assert await job_api.board.wait_final(killed, 10)
    failed_after = time.monotonic() - killed_at
    assert json.loads(killed.error)["error"]["message"] == ENGINE_DIED  # in flight, so "died"
    assert await asyncio.to_thread(worker.wait, 30) == 1
    # A figure for SECURITY.md, not a timed assertion: how fast the job was reported.
    print(f"engine killed mid-stream: job failed after {failed_after:.2f} s, "
          f"worker exited {time.monotonic() - killed_at:.2f} s after the kill")


async def test_sigterm_drains_the_job_in_flight_then_stops_the_engine(job_api, start_worker,
                                                                     tiny_vl_model):
    worker, log_path = start_worker(tiny_vl_model, SKIP_SERVER_WARMUP="true")
    draining = job_api.board.submit({"openai_route": "/v1/chat/completions", "openai_input": {
        **CHAT, "max_tokens": 400, "ignore_eos": True, "stream": True}}, job_id="draining")
    for _ in range(3000):
        if draining.streamed or worker.poll() is not None:
            break
        await asyncio.sleep(0.1)
    engine = psutil.Process(engine_pid(worker.pid))
    worker.send_signal(signal.SIGTERM)
    assert await job_api.board.wait_final(draining, 60)
    assert draining.output[-1].endswith("data: [DONE]\n\n")
    assert await asyncio.to_thread(worker.wait, 60) == 0
    assert not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE
    # The worker's own lines (SGLang's are prefixed, and SGLang may log tracebacks of its
    # own start-up probes): a clean exit, and the SDK at INFO, so no generated text.
    own = "\n".join(line for line in log_path.read_text(errors="replace").splitlines()
                    if not line.startswith("[sglang]"))
    assert "job=draining outcome=ok" in own
    for unwanted in ("Unclosed", "Traceback", "Task was destroyed", "chat.completion.chunk"):
        assert unwanted not in own, own[-4000:]
