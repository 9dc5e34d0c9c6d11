"""Load-balancing mode's lifecycle on the real SGLang server: the engine dying fails the request
in flight with a clear error, turns /ping to 503 and exits the worker non-zero. (SIGTERM's
drain is checked when the package's worker stops, in conftest.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal

import aiohttp
import pytest

from tests.support.lb_worker import ping, start_lb_worker, stop
from tests.support.worker_process import engine_pid

pytestmark = pytest.mark.integration

LONG = {"messages": [{"role": "user", "content": "Count."}], "max_tokens": 3000,
        "ignore_eos": True, "stream": True}


async def test_engine_death_fails_the_stream_turns_ping_to_503_and_exits_non_zero(
    tiny_vl_model, tmp_path
):
    worker = await asyncio.to_thread(start_lb_worker, tiny_vl_model, tmp_path / "worker.log")
    try:
        async with aiohttp.ClientSession() as session, session.post(
                f"{worker.url}/v1/chat/completions", json=LONG) as response:
            assert response.status == 200
            await response.content.readuntil(b"\n\n")
            os.killpg(engine_pid(worker.process.pid), signal.SIGKILL)
            rest = (await response.content.read()).decode()
        assert await asyncio.to_thread(ping, worker.url) == 503
        last = [block for block in rest.split("\n\n") if block][-1]
        error = json.loads(last.removeprefix("data: "))["error"]
        assert error["message"] == "the SGLang engine died while serving this job"
        assert "[DONE]" not in rest
        code = await asyncio.to_thread(worker.process.wait, 60)
        assert code != 0, worker.log()[-3000:]
        assert "the SGLang engine exited while serving" in worker.log()
    finally:
        stop(worker)
