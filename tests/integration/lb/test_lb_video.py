"""Video in load-balancing mode, as an OpenAI SDK user sends it to a worker: a clip answers with
video tokens (whole and streamed), and a hostile video URL is refused with no connection made."""

from __future__ import annotations

import openai
import pytest

from tests.support import video_corpus as corpus
from tests.support.image_server import ConnectionCounter

CLIP = corpus.data_url(corpus.make_clip(320, 240, 3, 15))


def video_chat(url: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "What happens?"},
                                         {"type": "video_url", "video_url": {"url": url}}]}]


@pytest.fixture
async def client(lb_worker):
    async with openai.AsyncOpenAI(base_url=lb_worker.openai_base_url, api_key="unused",
                                  max_retries=0, timeout=120) as client:
        yield client


async def test_a_video_answers_whole_and_streamed(client, tiny_vl_model):
    whole = await client.chat.completions.create(model=str(tiny_vl_model), max_tokens=2,
                                                 messages=video_chat(CLIP))
    assert whole.usage.prompt_tokens_details.video_tokens > 0
    stream = await client.chat.completions.create(
        model=str(tiny_vl_model), max_tokens=2, messages=video_chat(CLIP), stream=True,
        stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


async def test_a_hostile_video_url_is_refused_without_a_connection(lb_worker, tiny_vl_model):
    async with ConnectionCounter() as listener, openai.AsyncOpenAI(
            base_url=lb_worker.openai_base_url, api_key="unused", max_retries=0) as client:
        for url in (f"http://169.254.169.254:{listener.port}/v.mp4", "file:///etc/passwd"):
            with pytest.raises(openai.BadRequestError) as raised:
                await client.chat.completions.create(model=str(tiny_vl_model), max_tokens=1,
                                                     messages=video_chat(url))
            assert raised.value.body["param"] == "messages[0].content[1]", raised.value.body
        assert listener.connections == 0
