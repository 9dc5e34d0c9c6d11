"""A worker that dies: the local endpoint says why, fails the waiting jobs, and exits 1. (The
clean stop, SIGTERM forwarded to a serving worker, is checked when the session's endpoint is
torn down: see conftest.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import aiohttp
import pytest

from tests.support.paths import PROJECT_ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


async def test_a_worker_that_dies_is_reported_and_fails_its_waiting_jobs(tiny_vl_model):
    port = free_port()
    # No hold after the failed start (START_FAILURE_HOLD_S, tested in processes/): the
    # worker exits at once, which is what the endpoint must report.
    env = {**os.environ, "MODEL_NAME": str(tiny_vl_model), "CONTEXT_LENGTH": "lots",
           "START_FAILURE_HOLD_S": "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runpod_local", "--port", str(port),
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):  # requests are accepted while the worker starts
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert health["workers"]["initializing"] == 1
            async with http.post(f"http://127.0.0.1:{port}/runsync",
                                 json={"input": {"prompt": "hi"}}) as response:
                job = await response.json()
        output = (await asyncio.wait_for(process.stdout.read(), 120)).decode()
        assert await process.wait() == 1
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert job["status"] == "FAILED"
    error = json.loads(job["error"])["error"]
    assert error["code"] == 503
    assert error["message"] == "the worker exited with code 2 before it was ready"
    assert "the worker exited with code 2 before it was ready. Its last output:" in output
    assert "CONTEXT_LENGTH" in output.split("Its last output:")[1]
