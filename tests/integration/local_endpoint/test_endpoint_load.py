"""200 jobs at concurrency 32 through the local endpoint: every job completes and every output
belongs to its own request.

Each request is a completion with ``echo``: SGLang returns the prompt in front of the generated
text, so an output that starts with its own request's numbered prompt cannot be another
request's. The 200 are spread over the four ways in: the OpenAI route streaming and not,
``/runsync``, and ``/run`` followed by ``/stream`` polls.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import openai
import pytest

pytestmark = pytest.mark.integration

JOBS = 200
CONCURRENCY = 32


def prompt(n: int) -> str:
    return f"Load test request number {n} of {JOBS} says:"


def completion(n: int, **extra) -> dict:
    return {"prompt": prompt(n), "max_tokens": 2, "temperature": 0, "echo": True, **extra}


async def via_openai(client, model, n: int) -> str:
    response = await client.completions.create(model=model, **completion(n))
    return response.choices[0].text


async def via_openai_stream(client, model, n: int) -> str:
    stream = await client.completions.create(model=model, stream=True, **completion(n))
    return "".join([chunk.choices[0].text async for chunk in stream if chunk.choices])


async def via_runsync(http, url: str, n: int) -> str:
    job = {"openai_route": "/v1/completions", "openai_input": completion(n)}
    async with http.post(f"{url}/runsync", json={"input": job}) as response:
        body = await response.json()
    assert body["status"] == "COMPLETED", body
    return body["output"][0]["choices"][0]["text"]


async def via_run_and_stream(http, url: str, n: int) -> str:
    async with http.post(f"{url}/run", json={"input": completion(n, stream=True)}) as response:
        job_id = (await response.json())["id"]
    chunks = []
    while True:
        async with http.get(f"{url}/stream/{job_id}") as response:
            body = await response.json()
        chunks += [item["output"] for item in body["stream"]]
        if body["status"] not in ("IN_QUEUE", "IN_PROGRESS"):
            break
    assert body["status"] == "COMPLETED", body
    return "".join(chunk["choices"][0]["text"] for chunk in chunks)


async def test_200_jobs_at_concurrency_32_all_complete_without_cross_talk(local_endpoint):
    limit = asyncio.Semaphore(CONCURRENCY)
    client = openai.AsyncOpenAI(base_url=local_endpoint.openai_base_url, api_key="local",
                                max_retries=0, timeout=300)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        model = (await client.models.list()).data[0].id
        ways = [lambda n: via_openai(client, model, n),
                lambda n: via_openai_stream(client, model, n),
                lambda n: via_runsync(http, local_endpoint.url, n),
                lambda n: via_run_and_stream(http, local_endpoint.url, n)]

        async def one(n: int) -> tuple[int, str]:
            async with limit:
                return n, await ways[n % len(ways)](n)

        started = time.perf_counter()
        results = await asyncio.gather(*(one(n) for n in range(JOBS)), return_exceptions=True)
        elapsed = time.perf_counter() - started
    await client.close()

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} of {JOBS} requests failed, first: {errors[0]!r}"
    foreign = [(n, text) for n, text in results if not text.startswith(prompt(n))]
    assert not foreign, f"outputs not starting with their own prompt: {foreign[:3]}"
    assert len(results) == JOBS
    print(f"{JOBS} jobs at concurrency {CONCURRENCY} in {elapsed:.1f} s")
