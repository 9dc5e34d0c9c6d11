"""Issue 23 through the local endpoint (``make serve``): an adapter is picked by name in a
``/runsync`` job and through RunPod's OpenAI route, the model list has no adapter path, and an
unknown name fails the job with the 400 that lists the served names."""

from __future__ import annotations

import json

import openai
import pytest

from tests.integration.conftest import SERVED_MODEL_NAME
from tests.integration.lora.conftest import lora_env
from tests.integration.retrieval.conftest import runsync
from tests.support.local_endpoint import running_local_endpoint

pytestmark = pytest.mark.integration
CHAT = {"messages": [{"role": "user", "content": "Count from one to ten."}], "max_tokens": 12,
        "temperature": 0}


@pytest.fixture(scope="module")
def endpoint(tiny_vl_model, adapters, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("lora-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_vl_model, log_path, SERVED_MODEL_NAME=SERVED_MODEL_NAME,
                                **lora_env(adapters)) as endpoint:
        yield endpoint


def answer(job: dict) -> str:
    assert job["status"] == "COMPLETED", job
    return job["output"][0]["choices"][0]["message"]["content"]


async def test_jobs_and_the_openai_route_pick_the_adapter_by_name(endpoint, adapters):
    base = answer(await runsync(endpoint, "/v1/chat/completions", {**CHAT,
                                                                   "model": SERVED_MODEL_NAME}))
    style = answer(await runsync(endpoint, "/v1/chat/completions", {**CHAT, "model": "style"}))
    assert base != style
    async with openai.AsyncOpenAI(base_url=endpoint.openai_base_url, api_key="local",
                                  max_retries=0, timeout=120) as oai:
        relayed = await oai.chat.completions.create(model=f"{SERVED_MODEL_NAME}:style", **CHAT)
        assert relayed.choices[0].message.content == style
        cards = (await oai.models.list()).data
    assert {card.id: card.root for card in cards if card.parent} == {"style": "style",
                                                                     "tone": "tone"}
    assert not any(str(path) in str(cards) for path in adapters.values())


async def test_an_unknown_adapter_fails_the_job_listing_the_served_names(endpoint):
    job = await runsync(endpoint, "/v1/chat/completions", {**CHAT, "model": "stlye"})
    assert job["status"] == "FAILED", job
    error = json.loads(job["error"])["error"]
    assert error["param"] == "model" and "'style', 'tone'" in error["message"]
