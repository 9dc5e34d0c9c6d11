"""The async orchestrator end to end, without SGLang: request bodies in, bodies SGLang accepts
out, one error naming the part when anything is wrong."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import json
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from sglang_worker.apis import api_for
from sglang_worker.errors import ImageError
from sglang_worker.images import ImagePipeline, ImageReport
from sglang_worker.settings import Settings
from tests.support import image_corpus as corpus
from tests.support.body_images import BodyImages
from tests.support.image_server import ImageServer, guard_connections
from tests.support.paths import PROJECT_ROOT

CHAT = "/v1/chat/completions"
GENERATE = "/generate"
JPEG = corpus.jpeg()
PNG = corpus.png()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{b64(data)}"


def decoded_url(url: str) -> bytes:
    header, payload = url.split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64")
    return base64.b64decode(payload, validate=True)


def chat(*content: dict | str) -> dict:
    parts = [{"type": "text", "text": c} if isinstance(c, str) else c for c in content]
    return {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": parts}]}


def image_url(url: str, **extra) -> dict:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


@pytest.fixture(autouse=True)
async def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return guard_connections(monkeypatch)


@pytest.fixture
async def make_pipeline():
    made: list[ImagePipeline] = []

    def make(**overrides) -> ImagePipeline:
        made.append(ImagePipeline(Settings(**{"image_allow_private_urls": True, **overrides})))
        return BodyImages(made[-1])

    yield make
    for pipeline in made:
        await pipeline.close()


async def test_every_accepted_shape_and_source_becomes_a_data_url(make_pipeline,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "local.png").write_bytes(PNG)
    async with ImageServer() as server:
        url = server.serve("/cat.jpg", JPEG, content_type="application/octet-stream")
        body = chat(
            "look at these",
            image_url(url, detail="high"),
            {"type": "image_url", "image_url": data_url(PNG, "image/png")},
            "and",
            {"type": "image", "image": b64(JPEG)},
            image_url(f"file://{tmp_path}/local.png"),
            {"type": "image", "image": str(tmp_path / "local.png")},
        )
        body["messages"].insert(0, {"role": "system", "content": "be brief"})
        original = copy.deepcopy(body)

        new, report = await make_pipeline(image_local_dir=tmp_path).prepare(CHAT, body)

    assert body == original  # the input is not mutated
    content = new["messages"][1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "image_url", "text",
                                             "image_url", "image_url", "image_url"]
    assert content[0] == {"type": "text", "text": "look at these"}
    assert content[1]["image_url"]["detail"] == "high"
    images = [decoded_url(p["image_url"]["url"]) for p in content if p["type"] == "image_url"]
    assert images == [JPEG, PNG, JPEG, PNG, PNG]  # all passed through byte for byte
    assert new["messages"][0] == {"role": "system", "content": "be brief"}
    assert {k: v for k, v in new.items() if k != "messages"} == {"model": "m", "max_tokens": 5}
    assert report.count == 5 and report.changed == 0
    assert report.total_bytes_in == 2 * len(JPEG) + 3 * len(PNG)  # five distinct sources
    assert report.seconds > 0


async def test_generate_image_data_is_prepared_in_place(make_pipeline) -> None:
    rotated = corpus.jpeg(orientation=6)
    body = {"text": ["a", "b"], "image_data": [[b64(JPEG)], [data_url(rotated), b64(PNG)]],
            "sampling_params": {"max_new_tokens": 3}}
    new, report = await make_pipeline().prepare(GENERATE, body)
    first, (second, third) = new["image_data"][0][0], new["image_data"][1]
    assert decoded_url(first) == JPEG and first.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(decoded_url(second))).size == (48, 64)  # turned upright
    assert decoded_url(third) == PNG and third.startswith("data:image/png;base64,")
    assert (report.count, report.changed) == (3, 1)
    assert new["text"] is body["text"] and new["sampling_params"] is body["sampling_params"]
    single, _ = await make_pipeline().prepare(GENERATE, {"text": "a", "image_data": b64(PNG)})
    assert decoded_url(single["image_data"]) == PNG


async def test_a_canonical_data_url_that_needs_no_change_is_handed_over_as_it_is(
        make_pipeline) -> None:
    url = data_url(JPEG)
    new, report = await make_pipeline().prepare(CHAT, chat(image_url(url)))
    assert new["messages"][0]["content"][0]["image_url"]["url"] is url
    assert report.changed == 0
    wrong_label = data_url(JPEG, "image/png")  # the label is corrected, the base64 reused
    new, _ = await make_pipeline().prepare(CHAT, chat(image_url(wrong_label)))
    assert new["messages"][0]["content"][0]["image_url"]["url"] == url


async def test_routes_without_images_are_returned_unchanged(make_pipeline) -> None:
    pipeline = make_pipeline()
    for route, body in (("/v1/completions", {"prompt": "hi"}), (CHAT, chat("just text")),
                        (GENERATE, {"text": "hi"}), ("/v1/embeddings", {"input": "x"})):
        new, report = await pipeline.prepare(route, body)
        assert new is body and report == ImageReport()


async def test_a_multi_turn_chat_downloads_a_repeated_image_once(make_pipeline) -> None:
    async with ImageServer() as server:
        url = server.serve("/cat.png", PNG)
        body = {"messages": [
            {"role": "user", "content": [image_url(url), {"type": "text", "text": "what?"}]},
            {"role": "assistant", "content": "a cat"},
            {"role": "user", "content": [{"type": "image", "image": url}, image_url(url)]},
        ]}
        new, report = await make_pipeline().prepare(CHAT, body)
    assert server.paths == ["/cat.png"]
    urls = {p["image_url"]["url"] for m in (0, 2) for p in new["messages"][m]["content"]
            if p["type"] == "image_url"}
    assert len(urls) == 1 and decoded_url(urls.pop()) == PNG
    assert (report.count, report.total_bytes_in) == (3, len(PNG))


async def test_the_images_of_a_request_are_prepared_concurrently(make_pipeline) -> None:
    # Each response waits until all three requests have arrived: done one at a time, the
    # first would wait forever (well, 5 s) and the test would fail.
    arrived = asyncio.Event()
    waiting = []

    async def rendezvous(request: web.Request) -> web.Response:
        waiting.append(request.path)
        if len(waiting) == 3:
            arrived.set()
        await asyncio.wait_for(arrived.wait(), 5)
        return web.Response(body=PNG, content_type="image/png")

    async with ImageServer() as server:
        urls = [server.route(f"/{i}.png", rendezvous) for i in range(3)]
        new, report = await make_pipeline().prepare(CHAT, chat(*map(image_url, urls)))
    assert sorted(waiting) == ["/0.png", "/1.png", "/2.png"] and report.count == 3
    assert all(p["image_url"]["url"].startswith("data:image/png;") for p in
               new["messages"][0]["content"])


async def test_the_event_loop_keeps_serving_while_a_24_megapixel_jpeg_is_shrunk(
        make_pipeline) -> None:
    big = corpus.jpeg((6000, 4000))
    body = chat(image_url(data_url(big)))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    before = ticks
    new, report = await make_pipeline().prepare(CHAT, body)
    during = ticks - before
    task.cancel()

    out = Image.open(io.BytesIO(decoded_url(new["messages"][0]["content"][0]["image_url"]["url"])))
    assert report.changed == 1 and out.size == (4096, 2730)  # the default IMAGE_MAX_SIDE
    # Decoding and resizing on the loop would leave the ticker at most one tick behind.
    assert during >= 10, f"the event loop ticked only {during} times"


# --- Refusals -------------------------------------------------------------------------------

async def refusal(pipeline: ImagePipeline, body: dict, route: str = CHAT) -> ImageError:
    with pytest.raises(ImageError) as caught:
        await pipeline.prepare(route, body)
    return caught.value


async def test_one_bad_image_fails_the_request_naming_the_part(make_pipeline) -> None:
    body = chat("text", image_url(data_url(JPEG)), "more",
                image_url(data_url(corpus.NOT_IMAGES["PDF"], "image/png")))
    error = await refusal(make_pipeline(), body)
    assert error.param == "messages[0].content[3]"
    assert error.message == "not a supported image: detected PDF"
    assert error.to_body()["error"]["code"] == 400


async def test_the_earliest_bad_part_is_reported(make_pipeline) -> None:
    body = {"messages": [
        {"role": "user", "content": [image_url(data_url(JPEG)), image_url(b64(b"%PDF-1.7"))]},
        {"role": "user", "content": [image_url("data:image/png;base64,@@@")]},
    ]}
    error = await refusal(make_pipeline(), body)
    assert "detected PDF" in error.message


async def test_too_many_images_are_refused_before_any_work(make_pipeline) -> None:
    body = chat(*[image_url(f"http://192.0.2.{i}/a.png") for i in range(4)])
    error = await refusal(make_pipeline(max_images_per_request=3), body)
    assert error.message == "request has 4 images, over the limit of 3 (MAX_IMAGES_PER_REQUEST)"
    assert error.param == "messages[0].content[3]"


async def test_an_inline_image_over_the_byte_limit_is_refused_before_decoding(
        make_pipeline) -> None:
    big = corpus.png((300, 300))
    error = await refusal(make_pipeline(max_image_bytes=len(big) - 100),
                          chat(image_url(data_url(big, "image/png"))))
    assert error.message.startswith("image is about ")
    assert error.message.endswith("limit (MAX_IMAGE_BYTES)")


async def test_the_request_total_counts_every_distinct_image(make_pipeline) -> None:
    images = [corpus.png((40 + i, 40)) for i in range(3)]
    body = chat(*[image_url(data_url(im, "image/png")) for im in images])
    limit = sum(map(len, images)) - 10
    error = await refusal(make_pipeline(max_total_image_bytes=limit), body)
    assert "MAX_TOTAL_IMAGE_BYTES" in error.message
    # Repeating an image fetches and decodes it once: it counts once in what is received. But
    # it is sent once per part, and what is sent is bounded too (issue 13).
    one = data_url(images[0], "image/png")
    repeated = chat(*[image_url(one)] * 3)
    _, report = await make_pipeline(max_total_image_bytes=3 * len(one) + 10).prepare(CHAT,
                                                                                    repeated)
    assert report.count == 3 and report.total_bytes_in == len(images[0])
    error = await refusal(make_pipeline(max_total_image_bytes=len(images[0]) + 10), repeated)
    assert "as sent to the engine (MAX_TOTAL_IMAGE_BYTES)" in error.message


async def test_a_pixel_bomb_in_a_request_is_refused(make_pipeline) -> None:
    bomb = data_url(corpus.png_bomb(), "image/png")
    error = await refusal(make_pipeline(), chat(image_url(bomb)))
    assert error.message.startswith("image is 50000x50000 pixels")
    assert error.param == "messages[0].content[0]"


async def test_urls_are_refused_without_the_opt_in(monkeypatch) -> None:
    pipeline = BodyImages(ImagePipeline(Settings()))
    try:
        error = await refusal(pipeline, chat(image_url("http://127.0.0.1:9/a.png")))
        assert "is a loopback address" in error.message
    finally:
        await pipeline.close()


async def test_local_files_are_refused_unless_configured(make_pipeline, tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    error = await refusal(make_pipeline(), chat(image_url(str(tmp_path / "a.png"))))
    assert error.message == "local image files are not allowed (IMAGE_LOCAL_DIR is not set)"
    inside = tmp_path / "inside"
    inside.mkdir()
    error = await refusal(make_pipeline(image_local_dir=inside),
                          chat(image_url(f"{inside}/../a.png")))
    assert error.message == "local image path is outside IMAGE_LOCAL_DIR"


async def test_generate_refuses_entries_sglang_would_load_unchecked(make_pipeline) -> None:
    error = await refusal(make_pipeline(), {"text": "a", "image_data": [{"url": "x"}]}, GENERATE)
    assert error.param == "image_data[0]"


def test_count_image_parts_is_cheap_and_total() -> None:
    body = chat("a", image_url("http://x/1.png"), {"type": "image", "image": "y"})
    assert api_for(CHAT).count("image", body) == 2
    assert api_for(GENERATE).count("image", {"image_data": ["a", "b"]}) == 2
    assert api_for("/v1/completions").count("image", body) == 0


async def test_close_releases_the_session_and_the_pool() -> None:
    pipeline = BodyImages(ImagePipeline(Settings(image_allow_private_urls=True)))
    async with ImageServer() as server:
        await pipeline.prepare(CHAT, chat(image_url(server.serve("/a.png", PNG))))
    session = pipeline._fetcher._session.current
    await pipeline.close()
    assert session.closed
    with pytest.raises(RuntimeError):
        pipeline._pool.submit(print)


# --- The top-level example inputs -------------------------------------------------------------

def example_job(name: str) -> dict:
    return json.loads((PROJECT_ROOT / name).read_text())["input"]


async def test_the_base64_example_input_is_a_real_picture(make_pipeline) -> None:
    job = example_job("test_input_with_base64_images.json")
    new, report = await make_pipeline().prepare(job["openai_route"], job["openai_input"])
    (part,) = [p for p in new["messages"][0]["content"] if p["type"] == "image_url"]
    picture = Image.open(io.BytesIO(decoded_url(part["image_url"]["url"])))
    assert picture.size[0] >= 64 and picture.size[1] >= 48
    assert len(set(picture.convert("RGB").getdata())) > 8  # a scene, not a flat square
    assert (report.count, report.changed) == (1, 0)


def test_the_url_example_input_names_one_public_https_image() -> None:
    job = example_job("test_input_with_images.json")
    assert job["openai_route"] == CHAT
    assert api_for(CHAT).count("image", job["openai_input"]) == 1
    (part,) = [p for p in job["openai_input"]["messages"][0]["content"]
               if p["type"] == "image_url"]
    assert part["image_url"]["url"].startswith("https://")
