"""Video through the local RunPod endpoint: the OpenAI route and a ``/runsync`` job, as a queue
endpoint's users send them."""

from __future__ import annotations

import aiohttp
import openai

from tests.support import video_corpus as corpus

CLIP = corpus.data_url(corpus.make_clip(320, 240, 3, 15))
MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "What happens?"},
                                         {"type": "video_url", "video_url": {"url": CLIP}}]}]


async def test_video_through_the_openai_route_and_as_a_job(local_endpoint, tiny_vl_model):
    async with openai.AsyncOpenAI(base_url=local_endpoint.openai_base_url, api_key="local",
                                  max_retries=0, timeout=120) as client:
        answer = await client.chat.completions.create(model=str(tiny_vl_model), max_tokens=2,
                                                      messages=MESSAGES)
    tokens = answer.usage.prompt_tokens_details.video_tokens
    assert tokens > 0
    job = {"input": {"openai_route": "/v1/chat/completions",
                     "openai_input": {"messages": MESSAGES, "max_tokens": 2}}}
    async with aiohttp.ClientSession() as http, http.post(f"{local_endpoint.url}/runsync",
                                                          json=job) as response:
        done = await response.json()
    assert done["status"] == "COMPLETED", done
    assert done["output"][0]["usage"]["prompt_tokens_details"]["video_tokens"] == tokens
