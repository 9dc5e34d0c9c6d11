"""Audio in load-balancing mode, as an OpenAI SDK user sends it to a worker: ``input_audio``
whole and streamed, ``audio_url``, ``/generate``'s ``audio_data``, and hostile URLs refused with
no connection made. The worker runs as its own process with its own SGLang server serving the
tiny Qwen2-Audio, started for this module and stopped after it (one module per face, so the
two faces' servers never run at once)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import openai
import pytest

from tests.support import audio_corpus as corpus
from tests.support.image_server import ConnectionCounter
from tests.support.lb_worker import LBWorker, start_lb_worker, stop

pytestmark = pytest.mark.integration
INLINE = corpus.face_part()


@pytest.fixture(scope="module")
def audio_lb(tiny_audio_model: Path, tmp_path_factory) -> LBWorker:
    worker = start_lb_worker(tiny_audio_model,
                             tmp_path_factory.mktemp("audio-lb") / "worker.log")
    try:
        yield worker
    finally:
        assert stop(worker) == 0, worker.log()[-3000:]


async def test_lb_input_audio_whole_and_streamed(audio_lb, tiny_audio_model):
    async with openai.AsyncOpenAI(base_url=audio_lb.openai_base_url, api_key="unused",
                                  max_retries=0, timeout=120) as client:
        whole = await client.chat.completions.create(model=str(tiny_audio_model), max_tokens=2,
                                                     messages=corpus.messages(INLINE))
        assert whole.usage.prompt_tokens_details.audio_tokens == corpus.FACE_TOKENS
        stream = await client.chat.completions.create(
            model=str(tiny_audio_model), max_tokens=2, messages=corpus.messages(INLINE),
            stream=True, stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
        url = {"type": "audio_url", "audio_url": {"url": corpus.data_url(corpus.mp3())}}
        by_url = await client.chat.completions.create(model=str(tiny_audio_model),
                                                      max_tokens=1, messages=corpus.messages(url))
        assert by_url.usage.prompt_tokens_details.audio_tokens > 0


async def test_lb_generate_takes_audio_data(audio_lb):
    body = {"text": "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nSay it",
            "audio_data": corpus.data_url(corpus.wav(48000, 4, 2)),
            "sampling_params": {"max_new_tokens": 1}}
    async with aiohttp.ClientSession() as http, http.post(f"{audio_lb.url}/generate",
                                                          json=body) as response:
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert answer["meta_info"]["audio_tokens"] == corpus.FACE_TOKENS


async def test_lb_hostile_audio_urls_are_refused_without_a_connection(audio_lb,
                                                                      tiny_audio_model):
    async with ConnectionCounter() as listener, openai.AsyncOpenAI(
            base_url=audio_lb.openai_base_url, api_key="unused", max_retries=0) as client:
        for url in (f"http://169.254.169.254:{listener.port}/a.wav",
                    f"http://[::1]:{listener.port}/a.wav", "file:///etc/passwd"):
            with pytest.raises(openai.BadRequestError) as raised:
                await client.chat.completions.create(
                    model=str(tiny_audio_model), max_tokens=1,
                    messages=corpus.messages({"type": "audio_url", "audio_url": {"url": url}}))
            assert raised.value.body["param"] == "messages[0].content[1]", raised.value.body
        assert listener.connections == 0
