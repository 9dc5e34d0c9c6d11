"""Model-aware image sizing on the real SGLang server: the worker sizes each image once, to what
the tiny Qwen2-VL's processor makes of it, and SGLang counts the same image tokens as for the
original sent straight to it.

``usage.prompt_tokens_details.image_tokens`` is SGLang's own count. "Direct" posts the same
chat, with the original image, to the session's SGLang server over HTTP.
"""

from __future__ import annotations

import base64
import json
import logging

import aiohttp
import pytest

from sglang_worker.jobs import make_worker
from tests.support import image_corpus as corpus

pytestmark = pytest.mark.integration

# Tiny, panoramic 1:8 both ways, portrait, odd sizes, the tiny model's exact maximum (112x112)
# and sizes just below and above it, half-factor rounding edges (126 = 4.5 x 28), the
# processor's minimum (56x56) and sizes around it, and a 12 MP photo.
SWEEP = [(20, 15), (55, 57), (56, 56), (57, 55), (2400, 300), (300, 2400), (480, 640),
         (641, 479), (1023, 767), (111, 113), (112, 112), (113, 113), (125, 112), (126, 112),
         (127, 112), (155, 98), (139, 111), (4000, 3000)]
PNG_SWEEP = [(3000, 2000), (113, 90)]
ROTATED = [((640, 480), 6), ((2400, 300), 8), ((1023, 767), 3), ((300, 2400), 5)]


def data_url(data: bytes) -> str:
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def body(url: str, detail: str | None = None) -> dict:
    image: dict = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Describe."}, {"type": "image_url", "image_url": image}]}],
        "max_tokens": 1, "temperature": 0}


async def through_worker(worker, chat: dict) -> dict:
    outputs = [out async for out in worker.handle({"id": "sizing", "input": {
        "openai_route": "/v1/chat/completions", "openai_input": chat}})]
    assert len(outputs) == 1 and "error" not in outputs[0], outputs
    return outputs[0]


async def direct(engine_info, chat: dict) -> dict:
    async with aiohttp.ClientSession() as session, session.post(
            engine_info.base_url + "/v1/chat/completions",
            json={**chat, "model": engine_info.served_model}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def image_tokens(response: dict) -> int:
    return response["usage"]["prompt_tokens_details"]["image_tokens"]


def sweep_images() -> list[tuple[str, bytes]]:
    images = [(f"{w}x{h} JPEG", corpus.jpeg((w, h))) for w, h in SWEEP]
    images += [(f"{w}x{h} PNG", corpus.png((w, h))) for w, h in PNG_SWEEP]
    images += [(f"{w}x{h} JPEG EXIF {o}", corpus.jpeg((w, h), orientation=o))
               for (w, h), o in ROTATED]
    return images


async def test_the_worker_gets_the_image_tokens_of_the_original_across_the_sweep(
        worker, engine_info):
    assert worker.pipeline.image_grid is not None  # the tiny model's processor is known
    mismatched = {}
    for name, data in sweep_images():
        chat = body(data_url(data))
        ours, theirs = await through_worker(worker, chat), await direct(engine_info, chat)
        if image_tokens(ours) != image_tokens(theirs):
            mismatched[name] = (image_tokens(ours), image_tokens(theirs))
    assert mismatched == {}


async def test_the_worker_shrinks_a_photo_straight_to_the_processor_size(worker, caplog):
    with caplog.at_level(logging.INFO, logger="sglang_worker.jobs.handler"):
        await through_worker(worker, body(data_url(corpus.jpeg((4000, 3000)))))
    (line,) = [r.getMessage() for r in caplog.records if "outcome=" in r.getMessage()]
    assert "image_sizes=4000x3000>112x84 " in line


@pytest.fixture(scope="module")
async def low_detail_worker(settings, engine, engine_info):
    """A worker whose low-detail budget is below the tiny model's maximum (12,544 pixels), so
    ``low`` can cost fewer tokens than ``high`` (the default budget, 512x512, is above it)."""
    worker = make_worker(settings.model_copy(update={"image_low_detail_max_pixels": 3136}),
                         engine_info, engine)
    yield worker
    await worker.close()


async def test_detail_low_costs_fewer_tokens_and_auto_is_high(low_detail_worker):
    url = data_url(corpus.jpeg((4000, 3000)))
    tokens = {detail: image_tokens(await through_worker(low_detail_worker, body(url, detail)))
              for detail in ("low", "high", "auto", None)}
    assert tokens["low"] < tokens["high"] // 1.5
    assert tokens["auto"] == tokens["high"] == tokens[None]


async def test_an_unknown_detail_is_a_400_naming_the_part(worker):
    chat = body(data_url(corpus.jpeg((64, 48))), "medium")
    outputs = [out async for out in worker.handle({"id": "detail", "input": {
        "openai_route": "/v1/chat/completions", "openai_input": chat}})]
    error = json.loads(outputs[0]["error"])["error"]
    assert error["code"] == 400 and error["param"] == "messages[0].content[1]"
    assert '"low", "high" or "auto"' in error["message"]


@pytest.fixture(scope="module")
async def uncached_worker(settings, engine, engine_info):
    worker = make_worker(settings.model_copy(update={"image_cache_bytes": 0}), engine_info,
                         engine)
    yield worker
    await worker.close()


@pytest.mark.parametrize("which", ["cached", "uncached"])
async def test_a_repeated_turn_hits_sglangs_prefix_cache(worker, uncached_worker, which):
    """The prepared bytes are deterministic, with or without the worker's own cache, so the
    second identical request finds its image tokens in SGLang's radix cache (SGLang reports
    ``cached_tokens`` in ``/generate``'s meta_info; the chat route needs --enable-cache-report)."""
    chosen = worker if which == "cached" else uncached_worker
    photo = corpus.jpeg((3000, 2250))
    request = {"text": "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
                       f"Describe ({which}).<|im_end|>\n<|im_start|>assistant\n",
               "image_data": base64.b64encode(photo).decode(),
               "sampling_params": {"max_new_tokens": 1, "temperature": 0}}
    (first,) = [out async for out in chosen.handle({"id": "t1", "input": request})]
    (second,) = [out async for out in chosen.handle({"id": "t2", "input": request})]
    assert first["meta_info"]["prompt_tokens"] == second["meta_info"]["prompt_tokens"]
    assert second["meta_info"]["cached_tokens"] > 0


async def test_turn_three_of_a_chat_with_two_photos_decodes_nothing(worker, caplog):
    photos = [data_url(corpus.jpeg((4000, 3001))),
              data_url(corpus.jpeg((3001, 4000)))]
    messages: list[dict] = []
    lines = []
    for turn in range(3):
        content = [{"type": "text", "text": f"turn {turn}"}]
        if turn == 0:
            content += [{"type": "image_url", "image_url": {"url": url}} for url in photos]
        messages.append({"role": "user", "content": content})
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sglang_worker.jobs.handler"):
            response = await through_worker(worker, {"messages": messages, "max_tokens": 1,
                                                     "temperature": 0})
        lines += [r.getMessage() for r in caplog.records if "outcome=" in r.getMessage()]
        messages.append({"role": "assistant", "content": response["choices"][0]["message"][
            "content"] or "ok"})
    assert "image_cache_hits=0 " in lines[0]
    assert "image_cache_hits=2 " in lines[2]
    assert "images=2 " in lines[2]
