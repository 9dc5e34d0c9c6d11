"""Fuzzing the whole handler against the real SGLang server.

Properties, for any job input: the handler never raises; it finishes within a deadline; its
outputs are successes or end with exactly one error in the documented contract (a JSON string
of OpenAI's error body, never an internal error, never a traceback); and afterwards the worker
serves an ordinary job normally. The private-address opt-in is off, so no fuzzed URL connects.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given

from sglang_worker.errors import ErrorShape, InvalidRequest
from sglang_worker.jobs import make_worker
from sglang_worker.jobs.input import job_shape
from tests.support.fuzz_strategies import job_inputs
from tests.support.image_server import guard_connections

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]


@pytest.fixture(scope="module")
async def strict_worker(settings, engine, engine_info):
    worker = make_worker(settings.model_copy(update={"image_allow_private_urls": False}),
                         engine_info, engine)
    yield worker
    await worker.close()


@pytest.fixture(scope="module")
async def attempts():
    patch = pytest.MonkeyPatch()
    yield guard_connections(patch)
    patch.undo()


def check_contract(outputs: list, shape: ErrorShape) -> None:
    """The job ends in results, or in the job error ``{"error": "<JSON string>"}`` as its last
    yield: OpenAI's error body, Anthropic's on the Messages routes, SGLang's top-level one on
    its retrieval routes. (A result may hold an ``error`` field of its own: a Responses object
    has ``"error": null``.)"""
    assert outputs, "a job must yield something"
    *body, last = outputs
    for out in body:
        assert not (isinstance(out, dict) and set(out) == {"error"}), "an error ends the job"
    if not (isinstance(last, dict) and set(last) == {"error"}):
        return
    assert isinstance(last["error"], str)
    parsed = json.loads(last["error"])
    if shape == "anthropic":
        assert parsed["type"] == "error" and set(parsed["error"]) == {"type", "message"}
        error = parsed["error"]
    else:
        error = parsed if shape == "sglang" else parsed["error"]
        assert set(error) >= {"message", "type", "param", "code"}, parsed
        assert shape == "openai" or parsed["object"] == "error"
        assert isinstance(error["code"], int) and 400 <= error["code"] < 600
        assert error["param"] is None or isinstance(error["param"], str)
    message = error["message"]
    assert isinstance(message, str) and message
    assert "Traceback" not in message
    assert "internal error in the worker" not in message, "a bug, not a refusal"


@given(job_inputs)
async def test_any_job_ends_in_a_result_or_the_error_contract(strict_worker, attempts, engine,
                                                              job_input):
    async def run() -> list:
        return [out async for out in strict_worker.handle({"id": "fuzz", "input": job_input})]

    try:
        shape = job_shape(job_input).route.error_shape
    except InvalidRequest:  # no route decided: OpenAI's shape
        shape = "openai"
    check_contract(await asyncio.wait_for(run(), 60), shape)
    assert [a for a in attempts if a != "127.0.0.1"] == []
    assert engine.alive, "this input brought the SGLang server down"


async def test_the_worker_serves_normally_after_the_fuzzing(strict_worker):
    outputs = [out async for out in strict_worker.handle({"id": "after", "input": {
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}})]
    assert outputs[0]["object"] == "chat.completion"
