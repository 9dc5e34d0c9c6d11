"""``python handler.py`` exactly as deployed: the RunPod SDK's real job loop pulling jobs from a
loopback stand-in for RunPod's job API, with its own SGLang server (a text-only tiny model, so
the vision refusal is exercised end to end). The test ends by killing that engine mid-stream:
the job must fail with a clear error and the worker must exit non-zero.
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

import psutil
import pytest
from PIL import Image

from sglang_worker.settings import PROJECT_ROOT
from tests.support.runpod_stand_in import RunPodStandIn

pytestmark = pytest.mark.integration

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
        "temperature": 0}


def png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
async def stand_in():
    stand_in = RunPodStandIn()
    await stand_in.start()
    yield stand_in
    await stand_in.close()


def engine_pid(worker: subprocess.Popen) -> int:
    for child in psutil.Process(worker.pid).children():
        if "sglang.launch_server" in " ".join(child.cmdline()):
            return child.pid
    raise AssertionError("the worker has no SGLang child process")


async def test_deployed_worker_serves_refuses_images_and_dies_with_its_engine(
    stand_in, tiny_text_model, tmp_path
):
    env = {**os.environ, **stand_in.worker_env(), "MODEL_NAME": str(tiny_text_model),
           "MAX_CONCURRENCY": "4"}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([sys.executable, "handler.py"], cwd=PROJECT_ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        stand_in.submit("chat", {"openai_route": "/v1/chat/completions", "openai_input": CHAT})
        done = await stand_in.wait_done("chat", timeout=300)
        assert done["output"][0]["object"] == "chat.completion", log_path.read_text()[-3000:]

        stand_in.submit("stream", {"openai_route": "/v1/chat/completions",
                                   "openai_input": {**CHAT, "stream": True}})
        done = await stand_in.wait_done("stream", timeout=60)
        streamed = "".join(stand_in.streamed["stream"])
        assert streamed.endswith("data: [DONE]\n\n")
        assert done["output"] == stand_in.streamed["stream"]

        image_chat = {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": png_data_url()}}]}]}
        stand_in.submit("image", {"openai_route": "/v1/chat/completions",
                                  "openai_input": image_chat})
        done = await stand_in.wait_done("image", timeout=60)
        error = json.loads(done["error"])["error"]
        assert error["message"] == (
            f"Model {tiny_text_model} does not support vision (image) inputs")

        stand_in.submit("killed", {"openai_route": "/v1/chat/completions", "openai_input": {
            **CHAT, "max_tokens": 3000, "ignore_eos": True, "stream": True}})
        while not stand_in.streamed["killed"]:
            await asyncio.sleep(0.05)
        os.killpg(engine_pid(worker), signal.SIGKILL)
        done = await stand_in.wait_done("killed", timeout=10)
        assert "engine" in json.loads(done["error"])["error"]["message"]
        assert await asyncio.to_thread(worker.wait, 30) == 1
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def test_sigterm_drains_the_job_in_flight_then_stops_the_engine(stand_in, tiny_vl_model):
    env = {**os.environ, **stand_in.worker_env(), "MODEL_NAME": str(tiny_vl_model),
           "SKIP_SERVER_WARMUP": "true"}
    worker = subprocess.Popen([sys.executable, "handler.py"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stand_in.submit("draining", {"openai_route": "/v1/chat/completions", "openai_input": {
            **CHAT, "max_tokens": 400, "ignore_eos": True, "stream": True}})
        for _ in range(3000):
            if stand_in.streamed["draining"] or worker.poll() is not None:
                break
            await asyncio.sleep(0.1)
        engine = psutil.Process(engine_pid(worker))
        worker.send_signal(signal.SIGTERM)
        done = await stand_in.wait_done("draining", timeout=60)
        assert done["output"][-1].endswith("data: [DONE]\n\n")
        assert await asyncio.to_thread(worker.wait, 60) == 0
        assert not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
