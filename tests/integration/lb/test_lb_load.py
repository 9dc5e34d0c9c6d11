"""200 requests at concurrency 32 through load-balancing mode: text and images, streaming and
not. None is lost, and each answer belongs to its own request: a text request is a completion
with ``echo``, whose output starts with its own numbered prompt."""

from __future__ import annotations

import asyncio
import base64
import io

import openai
import pytest
from PIL import Image

pytestmark = pytest.mark.integration

REQUESTS = 200
CONCURRENCY = 32


def png_data_url(n: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64 + n % 32, 48), (n * 7 % 256, 90, 160)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def prompt(n: int) -> str:
    return f"Load-balanced request number {n} of {REQUESTS} says:"


async def one(client, model: str, n: int) -> bool:
    kind = n % 4
    if kind < 2:
        extra = {"model": model, "prompt": prompt(n), "max_tokens": 2, "temperature": 0,
                 "echo": True}
        if kind == 0:
            text = (await client.completions.create(**extra)).choices[0].text
        else:
            stream = await client.completions.create(stream=True, **extra)
            text = "".join([c.choices[0].text async for c in stream if c.choices])
        return text.startswith(prompt(n))
    messages = [{"role": "user", "content": [
        {"type": "text", "text": prompt(n)},
        {"type": "image_url", "image_url": {"url": png_data_url(n)}}]}]
    if kind == 2:
        response = await client.chat.completions.create(model=model, messages=messages,
                                                        max_tokens=2)
        return response.usage.prompt_tokens_details.image_tokens > 0
    stream = await client.chat.completions.create(
        model=model, messages=messages, max_tokens=2, stream=True,
        stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    return chunks[-1].usage.prompt_tokens_details.image_tokens > 0


async def test_200_mixed_requests_at_concurrency_32_none_lost_no_cross_talk(lb_worker):
    async with openai.AsyncOpenAI(base_url=lb_worker.openai_base_url, api_key="unused",
                                  max_retries=0, timeout=300) as client:
        model = (await client.models.list()).data[0].id
        gate = asyncio.Semaphore(CONCURRENCY)

        async def bounded(n: int) -> bool:
            async with gate:
                return await one(client, model, n)

        results = await asyncio.gather(*(bounded(n) for n in range(REQUESTS)))
    assert results.count(True) == REQUESTS, [n for n, ok in enumerate(results) if not ok]
