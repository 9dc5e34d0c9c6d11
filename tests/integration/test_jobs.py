"""Jobs through the worker's handler against the real SGLang CPU server (shared per session)."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging

import pytest

from tests.support import audio_corpus
from tests.support.worker_jobs import engine_load, run_job

pytestmark = pytest.mark.integration

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
        "temperature": 0}
LONG = {"messages": [{"role": "user", "content": "Count."}], "max_tokens": 3000,
        "temperature": 0, "ignore_eos": True, "stream": True}


def sse_events(text: str) -> list[str]:
    assert text.endswith("\n\n"), "every yield must end on an event boundary"
    return [block for block in text.split("\n\n") if block]


def running_requests(engine) -> int:
    return engine_load(engine.base_url)


async def test_chat_non_streaming_on_the_openai_route(worker, engine_info):
    outputs = await run_job(worker, {"openai_route": "/v1/chat/completions",
                                     "openai_input": CHAT})
    assert len(outputs) == 1
    response = outputs[0]
    assert response["object"] == "chat.completion"
    assert response["model"] == engine_info.served_model
    assert isinstance(response["choices"][0]["message"]["content"], str)
    assert response["usage"]["completion_tokens"] > 0


async def test_chat_streaming_on_the_openai_route_yields_whole_sse_events(worker):
    outputs = await run_job(worker, {"openai_route": "/v1/chat/completions",
                                     "openai_input": {**CHAT, "stream": True}})
    assert all(isinstance(out, str) for out in outputs)
    events = [e for out in outputs for e in sse_events(out)]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


async def test_direct_chat_shape_streams_parsed_chunk_objects(worker):
    outputs = await run_job(worker, {**CHAT, "stream": True})
    assert len(outputs) >= 2 and all(isinstance(out, dict) for out in outputs)
    assert all(out["object"] == "chat.completion.chunk" for out in outputs)


async def test_completions_with_prompt(worker):
    outputs = await run_job(worker, {"prompt": "Once upon a time", "max_tokens": 6,
                                     "temperature": 0})
    assert outputs[0]["object"] == "text_completion"
    assert outputs[0]["usage"]["completion_tokens"] > 0


async def test_native_generate(worker):
    outputs = await run_job(worker, {"text": "Hello", "sampling_params": {
        "max_new_tokens": 4, "ignore_eos": True}})
    assert isinstance(outputs[0]["text"], str)
    assert outputs[0]["meta_info"]["completion_tokens"] == 4  # max_new_tokens reached SGLang


@pytest.mark.parametrize("openai_input", [None, {}])
async def test_models_is_a_get(worker, engine_info, openai_input):
    outputs = await run_job(worker, {"openai_route": "/v1/models", "openai_input": openai_input})
    assert outputs[0]["object"] == "list"
    assert outputs[0]["data"][0]["id"] == engine_info.served_model


@pytest.mark.parametrize("stream", [False, True])
async def test_engine_400_is_passed_through_in_the_error_contract(worker, stream):
    outputs = await run_job(worker, {"openai_route": "/v1/chat/completions",
                                     "openai_input": {**CHAT, "max_tokens": 100000,
                                                      "stream": stream}})
    assert len(outputs) == 1 and set(outputs[0]) == {"error"}
    error = json.loads(outputs[0]["error"])["error"]
    assert error["code"] == 400 and error["type"] == "invalid_request_error"
    assert "maximum context length" in error["message"]


async def test_audio_for_a_model_without_audio_input_is_refused_before_any_work(worker):
    """Here, not beside the other audio tests, so that the session's Qwen2-VL server is not
    started (and its idle scheduler not spinning) while the audio package runs."""
    wav = base64.b64encode(audio_corpus.wav(16000, 0.5)).decode()
    outputs = await run_job(worker, {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"},
        {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}]}]})
    error = json.loads(outputs[0]["error"])["error"]
    assert error["code"] == 400 and "does not support audio inputs" in error["message"], error


async def test_bad_input_fails_the_job_without_reaching_the_engine(worker):
    outputs = await run_job(worker, {"openai_route": "/shutdown", "openai_input": {"x": 1}})
    assert json.loads(outputs[0]["error"])["error"]["code"] == 404
    outputs = await run_job(worker, {"openai_route": "/v1/models"})
    assert outputs[0]["object"] == "list"  # the engine is still up


async def test_streaming_really_streams(worker, engine):
    """The first yield arrives while SGLang is still generating the rest."""
    body = {**LONG, "max_tokens": 200}
    job = worker.handle({"id": "streams", "input": {"openai_route": "/v1/chat/completions",
                                                    "openai_input": body}})
    first = await anext(job)
    assert first.startswith("data: ") and "[DONE]" not in first
    assert running_requests(engine) >= 1  # generation goes on behind the first event
    rest = [out async for out in job]
    assert len(rest) >= 2
    assert rest[-1].endswith("data: [DONE]\n\n")


async def test_cancelling_a_job_aborts_the_engine_request(worker, engine):
    async def consume(started: asyncio.Event) -> None:
        async for _ in worker.handle({"id": "cancel-me", "input": LONG}):
            started.set()

    started = asyncio.Event()
    task = asyncio.create_task(consume(started))
    await asyncio.wait_for(started.wait(), 60)
    assert running_requests(engine) >= 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_engine_idle(engine)


async def wait_engine_idle(engine) -> None:
    for _ in range(100):  # SGLang notices the closed connection and frees the slot
        if running_requests(engine) == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("SGLang still runs the request 10 s after its job was cancelled")


async def test_a_cancel_that_lands_outside_the_handler_still_aborts_the_engine_request(
        worker, engine, caplog):
    """RunPod's SDK iterates the handler inside its own generator and posts every yield before
    asking for the next one. A cancel that lands during that post never reaches the handler's
    generator: it is left suspended at a ``yield``. The engine request must still be closed at
    once, not whenever the garbage collector finalises the abandoned generator."""
    posting = asyncio.Event()
    abandoned = []  # the SDK's cancelled task keeps its traceback, and with it the generator

    async def sdk_like(job: dict) -> None:
        outputs = worker.handle(job)
        abandoned.append(outputs)
        async for _ in outputs:
            posting.set()
            await asyncio.sleep(3600)  # the SDK's job-stream POST, outside the handler

    gc.disable()  # a finaliser run by the collector must not be what saves the day
    try:
        task = asyncio.create_task(sdk_like({"id": "cancel-outside", "input": LONG}))
        await asyncio.wait_for(posting.wait(), 60)
        assert running_requests(engine) >= 1
        with caplog.at_level(logging.INFO, logger="sglang_worker"):
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await wait_engine_idle(engine)
            for _ in range(50):
                if "job=cancel-outside outcome=cancelled" in caplog.text:
                    break
                await asyncio.sleep(0.1)
        assert "job=cancel-outside outcome=cancelled" in caplog.text
    finally:
        gc.enable()


async def test_jobs_run_concurrently_not_one_at_a_time(worker):
    """Four streaming jobs: each has produced output before any of them has finished."""
    firsts: dict[int, int] = {}
    lasts: dict[int, int] = {}
    step = 0

    async def one(n: int) -> None:
        nonlocal step
        body = {**LONG, "max_tokens": 150}
        async for _ in worker.handle({"id": f"concurrent-{n}", "input": body}):
            step += 1
            firsts.setdefault(n, step)
        lasts[n] = step

    await asyncio.gather(*(one(n) for n in range(4)))
    assert max(firsts.values()) < min(lasts.values())


async def test_a_read_route_with_an_empty_body_still_answers_an_object(worker):
    outputs = await run_job(worker, {"openai_route": "/health", "openai_input": None})
    assert outputs == [{"status": 200, "text": ""}]


@pytest.mark.parametrize("job_input, words", [
    ({"text": "", "sampling_params": {"max_new_tokens": 2}}, "cannot generate from zero tokens"),
    ({"prompt": "", "max_tokens": 2}, "cannot generate from zero tokens"),
    ({"prompt": [1062821, 8967], "max_tokens": 2}, "outside the model's vocabulary"),
    ({"input_ids": [5, 10**6], "sampling_params": {"max_new_tokens": 2}}, "vocabulary"),
])
async def test_prompts_that_would_crash_sglang_are_refused_and_it_survives(
    worker, engine, job_input, words
):
    """Found by fuzzing: SGLang's scheduler crashes on these, taking the engine with it."""
    assert worker.pipeline.info.vocab_size == 512  # read from the tiny model's config.json
    outputs = await run_job(worker, job_input)
    assert words in json.loads(outputs[0]["error"])["error"]["message"]
    assert engine.alive
    assert (await run_job(worker, {"prompt": "ok", "max_tokens": 2}))[0]["object"] == (
        "text_completion")
