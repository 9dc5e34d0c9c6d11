"""Issue 23 in load-balancing mode: two adapters over the tiny Qwen2-VL on SGLang's CPU engine,
called as a user calls them with the OpenAI and Anthropic SDKs. Greedy output through an
adapter differs from the base model's and is stable; a bare adapter name and
``<served>:<adapter>`` pick the same adapter; two adapters and the base batch together; an
image request goes through an adapter; ``/v1/models`` lists the adapters by name with no path;
an unknown name, a path in ``lora_path`` and an adapter on ``/v1/responses`` are clear 400s;
SGLang's adapter-loading routes stay closed.

The worker is configured as a worker-vllm endpoint is (issue 24): worker-vllm's variable names
throughout, the adapters in its ``LORA_MODULES`` form, the chat template inline, and one
misspelt variable; the start-up log and the engine's command line show what each became."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import anthropic
import openai
import pytest

from tests.integration.conftest import SERVED_MODEL_NAME
from tests.support.lb_worker import running_lb_worker
from tests.support.retrieval_cases import IMAGE

pytestmark = pytest.mark.integration
PROMPT = [{"role": "user", "content": "Count from one to ten."}]


def worker_vllm_env(model, adapters) -> dict[str, str]:
    """As a worker-vllm endpoint's settings would be written; the template is the model's own,
    pasted inline as worker-vllm's users do, so the answers stay the model's."""
    template = json.loads((model / "tokenizer_config.json").read_text())["chat_template"]
    return {
        "OPENAI_SERVED_MODEL_NAME_OVERRIDE": SERVED_MODEL_NAME,
        "LORA_MODULES": json.dumps([{"name": name, "path": str(path)}
                                    for name, path in adapters.items()]),
        "MAX_MODEL_LEN": "2048",
        "MAX_NUM_SEQS": "12",
        "CUSTOM_CHAT_TEMPLATE": template,
        "ENABLE_PREFIX_CACHING": "true",
        "RAW_OPENAI_OUTPUT": "1",
        "MAX_NUM_SEQ": "8",  # a misspelling: it does nothing, and the log says so
    }


@pytest.fixture(scope="module")
def lb(tiny_vl_model, adapters, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("lb-lora") / "worker.log"
    with running_lb_worker(tiny_vl_model, log_path,
                           **worker_vllm_env(tiny_vl_model, adapters)) as worker:
        yield worker


async def test_a_worker_vllm_configuration_starts_the_model_with_the_same_limits(lb, oai):
    log = lb.log()
    argv = re.search(r"sglang\.launch_server (--model-path .*)$", log, re.M).group(1).split()
    pairs = dict(zip(argv, [*argv[1:], ""], strict=True))
    assert pairs["--context-length"] == "2048"
    assert pairs["--max-running-requests"] == "12"
    assert pairs["--served-model-name"] == SERVED_MODEL_NAME
    template = pairs["--chat-template"]
    assert re.fullmatch(r".*/sglang-worker/chat-template-[0-9a-f]{16}\.jinja", template)
    assert "--disable-radix-cache" not in argv
    for line in ("MAX_MODEL_LEN is worker-vllm's name: read as CONTEXT_LENGTH='2048'",
                 "MAX_NUM_SEQS is worker-vllm's name: read as MAX_RUNNING_REQUESTS='12'",
                 "CUSTOM_CHAT_TEMPLATE is worker-vllm's name: read as CHAT_TEMPLATE=<",
                 "ENABLE_PREFIX_CACHING='true' is SGLang's default: nothing to set",
                 "RAW_OPENAI_OUTPUT has no SGLang equivalent and is ignored",
                 "warning: MAX_NUM_SEQ is not a setting this worker, SGLang or worker-vllm "
                 "knows, so it does nothing; did you mean MAX_NUM_SEQS?"):
        assert line in log, line
    assert "{% set image_count" not in log  # the template is logged by its size only
    card = (await oai.models.retrieve(SERVED_MODEL_NAME)).model_dump()
    assert card["max_model_len"] == 2048


@pytest.fixture
async def oai(lb):
    async with lb.openai_client() as client:
        yield client


async def say(oai, model: str, messages=PROMPT, **extra) -> str:
    response = await oai.chat.completions.create(model=model, messages=messages, max_tokens=12,
                                                 temperature=0, **extra)
    return response.choices[0].message.content


async def test_each_adapter_answers_otherwise_than_the_base_and_the_same_each_time(oai):
    base = await say(oai, SERVED_MODEL_NAME)
    style, tone = await say(oai, "style"), await say(oai, "tone")
    assert len({base, style, tone}) == 3, (base, style, tone)
    assert await say(oai, f"{SERVED_MODEL_NAME}:style") == style == await say(oai, "style")
    assert await say(oai, SERVED_MODEL_NAME, extra_body={"lora_path": "tone"}) == tone


async def test_two_adapters_and_the_base_in_one_batch_answer_as_alone(oai):
    alone = {model: await say(oai, model) for model in (SERVED_MODEL_NAME, "style", "tone")}
    together = await asyncio.gather(*(say(oai, model) for model in alone for _ in range(2)))
    assert together == [answer for answer in alone.values() for _ in range(2)]


async def test_an_image_request_goes_through_an_adapter(oai):
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": IMAGE}}]}]
    response = await oai.chat.completions.create(model="style", messages=messages,
                                                 max_tokens=8, temperature=0)
    assert response.usage.prompt_tokens_details.image_tokens > 0
    assert response.choices[0].message.content != await say(oai, SERVED_MODEL_NAME, messages)


async def test_completions_and_the_messages_api_pick_the_adapter_too(oai, lb):
    texts = [(await oai.completions.create(model=model, prompt="Count.", max_tokens=8,
                                           temperature=0)).choices[0].text
             for model in (SERVED_MODEL_NAME, "tone")]
    assert texts[0] != texts[1]
    claude = anthropic.AsyncAnthropic(base_url=lb.url, api_key="unused", max_retries=0)
    replies = [(await claude.messages.create(model=model, max_tokens=12, messages=PROMPT,
                                             extra_body={"temperature": 0})).content[0].text
               for model in (SERVED_MODEL_NAME, "tone")]
    assert replies[0] != replies[1]
    assert replies[1] == await say(oai, "tone")


async def test_models_lists_each_adapter_by_name_and_no_path(oai, lb, adapters):
    cards = {card.id: card for card in (await oai.models.list()).data}
    assert set(cards) == {SERVED_MODEL_NAME, "style", "tone"}
    for name in ("style", "tone"):
        assert cards[name].root == name and cards[name].parent == SERVED_MODEL_NAME
        assert (await oai.models.retrieve(name)).root == name
    listing = str([card.model_dump() for card in cards.values()])
    assert all(str(path) not in listing and path.name not in listing
               for path in adapters.values())


async def test_unknown_names_paths_and_adapters_where_sglang_ignores_them_are_refused(oai):
    for model in ("styel", f"{SERVED_MODEL_NAME}:nope"):
        with pytest.raises(openai.BadRequestError) as raised:
            await say(oai, model)
        assert raised.value.body["param"] == "model"
        assert "'style', 'tone'" in raised.value.body["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        await say(oai, SERVED_MODEL_NAME, extra_body={"lora_path": "/etc"})
    assert raised.value.body["param"] == "lora_path" and "never a path" in \
        raised.value.body["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        await oai.responses.create(model="style", input="Count.", max_output_tokens=8)
    assert "would answer with the base model" in raised.value.body["message"]


async def test_sglangs_adapter_loading_routes_stay_closed(lb, adapters):
    async with aiohttp.ClientSession() as http:
        for route in ("/load_lora_adapter", "/unload_lora_adapter",
                      "/load_lora_adapter_from_tensors"):
            async with http.post(f"{lb.url}{route}", json={
                    "lora_name": "x", "lora_path": str(adapters["style"])}) as response:
                assert response.status == 404, route
