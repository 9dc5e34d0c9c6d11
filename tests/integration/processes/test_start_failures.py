"""A worker whose engine cannot start, for a reason a restart will not fix, deployed as RunPod
runs it: in queue mode the SDK's real job loop (against the local job API) fails every job with
the cause for ``START_FAILURE_HOLD_S``, then the worker exits non-zero; in lb mode ``/ping``
and every request get a 503 with the cause for the same hold. Both run with the SDK's
fitness-check switches unset, as on RunPod: the worker turns the checks off itself (a check
that ran here would try the network and kill the worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from runpod_local.board import JobBoard
from runpod_local.job_api import WorkerJobAPI
from tests.support.paths import PROJECT_ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

HOLD_S = 8
CHAT = {"openai_route": "/v1/chat/completions", "openai_input": {
    "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}}
SDK_SWITCHES = ("RUNPOD_SKIP_GPU_CHECK", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS")


@pytest.fixture
async def job_api():
    api = WorkerJobAPI(JobBoard(), poll_s=1.0)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def start_worker(tmp_path):
    started: list[subprocess.Popen] = []

    def start(**env: str) -> tuple[subprocess.Popen, Path]:
        log_path = tmp_path / "worker.log"
        base = {k: v for k, v in os.environ.items() if k not in SDK_SWITCHES}
        with open(log_path, "wb") as log:
            started.append(subprocess.Popen(
                [sys.executable, "handler.py"], cwd=PROJECT_ROOT,
                env={**base, "START_FAILURE_HOLD_S": str(HOLD_S), "PYTHONUNBUFFERED": "1",
                     **env},
                stdout=log, stderr=subprocess.STDOUT))
        return started[-1], log_path

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def deployed_env(api: WorkerJobAPI) -> dict[str, str]:
    return {k: v for k, v in api.worker_env().items() if k not in SDK_SWITCHES}


async def fail_jobs_then_exit(api: WorkerJobAPI, worker: subprocess.Popen, log_path: Path,
                              words: str, code: int) -> None:
    jobs = [api.board.submit(CHAT, job_id=f"job-{i}") for i in range(3)]
    for job in jobs:
        assert await api.board.wait_final(job, 120), log_path.read_text()[-3000:]
        error = json.loads(job.error)["error"]
        assert error["code"] == 503
        assert error["message"].startswith("this worker could not start its engine: ")
        assert words in error["message"], error["message"]
    failed_at = time.monotonic()
    assert await _wait(worker, HOLD_S + 30) == code, log_path.read_text()[-3000:]
    assert time.monotonic() - failed_at <= HOLD_S + 30
    log = log_path.read_text(errors="replace")
    assert "a restart will not fix this" in log
    assert "fitness check" not in log.lower(), log[-3000:]


async def _wait(process: subprocess.Popen, timeout: float) -> int:
    import asyncio

    return await asyncio.to_thread(process.wait, timeout)


async def test_a_missing_model_path_fails_every_job_with_the_cause_then_exits(
        job_api, start_worker, tmp_path):
    missing = tmp_path / "volume" / "models" / "nothing-here"
    worker, log_path = start_worker(**deployed_env(job_api), MODEL_NAME=str(missing))
    await fail_jobs_then_exit(job_api, worker, log_path,
                              f"MODEL_NAME={missing} is a path, but nothing exists there", 2)


async def test_a_bad_flag_fails_every_job_naming_the_variable_then_exits(
        job_api, start_worker, tiny_vl_model):
    worker, log_path = start_worker(**deployed_env(job_api), MODEL_NAME=str(tiny_vl_model),
                                    CONTEXT_LENGTH="lots")
    await fail_jobs_then_exit(job_api, worker, log_path,
                              "CONTEXT_LENGTH: argument --context-length:", 2)


async def test_a_lora_adapter_that_is_not_there_fails_every_job_with_the_cause_then_exits(
        job_api, start_worker, tiny_vl_model, tmp_path):
    missing = tmp_path / "adapters" / "style"
    worker, log_path = start_worker(**deployed_env(job_api), MODEL_NAME=str(tiny_vl_model),
                                    LORA_ADAPTERS=f"style={missing}")
    await fail_jobs_then_exit(job_api, worker, log_path,
                              f"LoRA adapter 'style': the directory '{missing}' does not exist",
                              2)


def _get(url: str, data: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def test_lb_mode_answers_503_with_the_cause_during_the_hold_then_exits(
        start_worker, tmp_path):
    port = free_port()
    missing = tmp_path / "absent-model"
    worker, log_path = start_worker(WORKER_MODE="lb", PORT=str(port), LB_HOST="127.0.0.1",
                                    MODEL_NAME=str(missing))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            status, body = _get(f"{url}/ping")
        except OSError:  # not listening yet
            status, body = None, {}
        if status == 503:
            break
        assert worker.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, (status, log_path.read_text()[-3000:])
        time.sleep(0.2)
    held_at = time.monotonic()
    cause = f"MODEL_NAME={missing} is a path, but nothing exists there"
    assert body["status"] == "unhealthy" and cause in body["message"]
    status, body = _get(f"{url}/v1/chat/completions", json.dumps(CHAT["openai_input"]).encode())
    assert status == 503
    assert body["error"]["message"].startswith("this worker could not start its engine: ")
    assert cause in body["error"]["message"]
    assert await _wait(worker, HOLD_S + 30) == 2
    assert time.monotonic() - held_at <= HOLD_S + 30
