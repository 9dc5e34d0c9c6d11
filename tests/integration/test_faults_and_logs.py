"""Faults on the shared SGLang server (a hang), and what the logs may never contain."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal

import pytest

from sglang_worker.jobs import make_worker
from tests.support import image_corpus as corpus
from tests.support.image_server import ImageServer

pytestmark = pytest.mark.integration

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{48,}={0,2}")


async def outputs_of(worker, job_input, job_id="fault"):
    return [out async for out in worker.handle({"id": job_id, "input": job_input})]


async def test_a_hung_engine_hits_the_read_deadline_with_a_clear_error(
    settings, engine, engine_info
):
    impatient = make_worker(settings.model_copy(update={"engine_read_timeout_s": 2}),
                            engine_info, engine)
    job = {"openai_route": "/v1/chat/completions", "openai_input": {
        **CHAT, "max_tokens": 2000, "ignore_eos": True, "stream": True}}
    try:
        stream = impatient.handle({"id": "hung", "input": job})
        assert (await anext(stream)).startswith("data: ")
        os.killpg(engine.process.pid, signal.SIGSTOP)
        rest = [out async for out in stream]
    finally:
        os.killpg(engine.process.pid, signal.SIGCONT)
        await impatient.close()
    in_band = [out for out in rest if isinstance(out, str) and '"error"' in out]
    assert in_band and "ENGINE_READ_TIMEOUT_S" in in_band[-1]
    error = json.loads(rest[-1]["error"])["error"]
    assert error["code"] == 504 and "the engine sent nothing for 2 s" in error["message"]


async def test_the_engine_serves_normally_after_the_hang(worker):
    outputs = await outputs_of(worker, {"openai_route": "/v1/chat/completions",
                                        "openai_input": CHAT})
    assert outputs[0]["object"] == "chat.completion"


async def test_logs_never_carry_image_data(worker, caplog, capfd):
    png = corpus.png((300, 200))
    jpeg = corpus.jpeg((2400, 1800))  # shrunk, so the worker encodes new base64 too
    async with ImageServer() as server:
        url = server.serve("/p.png", png)
        parts = [{"type": "image_url", "image_url": {"url": u}} for u in (
            "data:image/png;base64," + base64.b64encode(png).decode(),
            base64.b64encode(jpeg).decode(), url, "data:image/png;base64,AAAAAAAA" * 8)]
        with caplog.at_level(logging.DEBUG):
            for i, part in enumerate(parts):
                body = {"messages": [{"role": "user", "content": [part]}], "max_tokens": 2}
                await outputs_of(worker, {"openai_route": "/v1/chat/completions",
                                          "openai_input": body}, f"log-{i}")
    logs = caplog.text + capfd.readouterr().err
    assert "job=log-0 outcome=ok" in logs and "job=log-3 outcome=error:400" in logs
    assert "data:image" not in logs
    assert BASE64_RUN.findall(logs) == []
