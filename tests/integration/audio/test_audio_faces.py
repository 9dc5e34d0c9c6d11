"""Audio through both faces as their users send it: a load-balancing worker called with the
OpenAI SDK (``input_audio`` whole and streamed, ``audio_url``, ``/generate``'s ``audio_data``,
hostile URLs refused with no connection made), and the local RunPod endpoint's OpenAI route
and a ``/runsync`` job. Each face runs as its own process with its own SGLang server serving
the tiny Qwen2-Audio, started for this module and stopped after it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.support import audio_corpus as corpus
from tests.support.image_server import ConnectionCounter
from tests.support.lb_worker import LBWorker, start_lb_worker, stop
from tests.support.local_endpoint import LocalEndpoint, running_local_endpoint
from tests.support.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration
WAV = corpus.wav(48000, 4, 2)
INLINE = {"type": "input_audio", "input_audio": {"data": corpus.b64(WAV), "format": "wav"}}
TOKENS = 100  # 4 s at 25 audio tokens a second


def chat(*parts: dict) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is said?"}, *parts]}]


@pytest.fixture(scope="module")
def audio_lb(tiny_audio_model: Path, tmp_path_factory) -> LBWorker:
    worker = start_lb_worker(tiny_audio_model,
                             tmp_path_factory.mktemp("audio-lb") / "worker.log")
    try:
        yield worker
    finally:
        assert stop(worker) == 0, worker.log()[-3000:]


@pytest.fixture(scope="module")
def audio_endpoint(tiny_audio_model: Path, tmp_path_factory) -> LocalEndpoint:
    log_path = tmp_path_factory.mktemp("audio-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_audio_model, log_path) as endpoint:
        yield endpoint


async def test_lb_input_audio_whole_and_streamed(audio_lb, tiny_audio_model):
    async with openai.AsyncOpenAI(base_url=audio_lb.openai_base_url, api_key="unused",
                                  max_retries=0, timeout=120) as client:
        whole = await client.chat.completions.create(model=str(tiny_audio_model), max_tokens=2,
                                                     messages=chat(INLINE))
        assert whole.usage.prompt_tokens_details.audio_tokens == TOKENS
        stream = await client.chat.completions.create(
            model=str(tiny_audio_model), max_tokens=2, messages=chat(INLINE), stream=True,
            stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
        url = {"type": "audio_url", "audio_url": {"url": corpus.data_url(corpus.mp3())}}
        by_url = await client.chat.completions.create(model=str(tiny_audio_model),
                                                      max_tokens=1, messages=chat(url))
        assert by_url.usage.prompt_tokens_details.audio_tokens > 0


async def test_lb_generate_takes_audio_data(audio_lb):
    body = {"text": "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nSay it",
            "audio_data": corpus.data_url(WAV), "sampling_params": {"max_new_tokens": 1}}
    async with aiohttp.ClientSession() as http, http.post(f"{audio_lb.url}/generate",
                                                          json=body) as response:
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert answer["meta_info"]["audio_tokens"] == TOKENS


async def test_lb_hostile_audio_urls_are_refused_without_a_connection(audio_lb,
                                                                      tiny_audio_model):
    async with ConnectionCounter() as listener, openai.AsyncOpenAI(
            base_url=audio_lb.openai_base_url, api_key="unused", max_retries=0) as client:
        for url in (f"http://169.254.169.254:{listener.port}/a.wav",
                    f"http://[::1]:{listener.port}/a.wav", "file:///etc/passwd"):
            with pytest.raises(openai.BadRequestError) as raised:
                await client.chat.completions.create(
                    model=str(tiny_audio_model), max_tokens=1,
                    messages=chat({"type": "audio_url", "audio_url": {"url": url}}))
            assert raised.value.body["param"] == "messages[0].content[1]", raised.value.body
        assert listener.connections == 0


async def test_endpoint_openai_route_and_runsync(audio_endpoint, tiny_audio_model):
    async with openai.AsyncOpenAI(base_url=audio_endpoint.openai_base_url, api_key="local",
                                  max_retries=0, timeout=120) as client:
        answer = await client.chat.completions.create(model=str(tiny_audio_model),
                                                      max_tokens=2, messages=chat(INLINE))
    assert answer.usage.prompt_tokens_details.audio_tokens == TOKENS
    job = {"input": {"openai_route": "/v1/chat/completions",
                     "openai_input": {"messages": chat(INLINE), "max_tokens": 2}}}
    async with aiohttp.ClientSession() as http, http.post(f"{audio_endpoint.url}/runsync",
                                                          json=job) as response:
        done = await response.json()
    assert done["status"] == "COMPLETED", done
    assert done["output"][0]["usage"]["prompt_tokens_details"]["audio_tokens"] == TOKENS


def test_image_support_script_passes_the_audio_cases(audio_endpoint):
    done = subprocess.run(
        [sys.executable, "test_image_support.py", "--base-url", audio_endpoint.url],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    for case in ("audio as base64 (input_audio)", "streaming, audio as a data URL",
                 "error: a PNG sent as WAV audio", "models.list()",
                 "error: over the size limit"):
        assert re.search(rf"^{re.escape(case)} +pass ", done.stdout, re.M), done.stdout
    # The image and video cases are skipped, with the reason: the model takes no images.
    assert re.search(r"^image as base64 +skipped .*takes no images or video", done.stdout,
                     re.M), done.stdout
    assert "5 of 17 cases passed" in done.stdout, done.stdout
