"""Images end to end: every accepted shape, source and format reaches the real SGLang model.

``usage.prompt_tokens_details.image_tokens`` is SGLang's own count of image tokens in the
prompt, so a value above 0 proves the image reached the model.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.support import image_corpus as corpus
from tests.support.image_server import ImageServer

pytestmark = pytest.mark.integration


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def chat(*content, stream: bool = False, **extra) -> dict:
    body = {"messages": [{"role": "user", "content": list(content)}], "max_tokens": 4,
            "temperature": 0, "stream": stream, **extra}
    return {"openai_route": "/v1/chat/completions", "openai_input": body}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def image_url(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}


async def complete(worker, job_input) -> dict:
    outputs = [out async for out in worker.handle({"id": "img", "input": job_input})]
    assert len(outputs) == 1, outputs
    assert "error" not in outputs[0], outputs[0]
    return outputs[0]


def image_tokens(response: dict) -> int:
    return response["usage"]["prompt_tokens_details"]["image_tokens"]


JPEG = corpus.jpeg((320, 240))


@pytest.fixture(scope="module")
async def server():
    async with ImageServer() as server:
        yield server


@pytest.mark.parametrize("part", [
    image_url("data:image/jpeg;base64," + b64(JPEG)),
    {"type": "image_url", "image_url": "data:image/jpeg;base64," + b64(JPEG)},
    {"type": "image", "image": "data:image/jpeg;base64," + b64(JPEG)},
    image_url(b64(JPEG)),
    image_url("data:image/png;base64," + b64(JPEG)),  # mislabelled: sniffed, not trusted
    image_url("data:image/jpeg;base64,\n" + "\n".join(
        base64.urlsafe_b64encode(JPEG).decode().rstrip("=")[i:i + 76]
        for i in range(0, 4 * len(JPEG) // 3, 76))),
], ids=["image_url-object", "image_url-string", "qwen-image", "bare-base64", "mislabelled",
        "urlsafe-wrapped-unpadded"])
async def test_every_part_shape_and_inline_form_reaches_the_model(worker, part):
    response = await complete(worker, chat(text("Describe."), part))
    assert image_tokens(response) > 0


async def test_image_by_url_from_a_server(worker, server):
    url = server.serve("/photo.jpg", JPEG, content_type="application/octet-stream")
    response = await complete(worker, chat(image_url(url), text("What is it?")))
    assert image_tokens(response) > 0
    assert server.paths.count("/photo.jpg") == 1


async def test_local_file_under_the_allowed_directory(worker, image_dir):
    path = image_dir / "local.png"
    path.write_bytes(corpus.png((100, 80)))
    for source in (str(path), path.as_uri()):
        response = await complete(worker, chat(image_url(source)))
        assert image_tokens(response) > 0


@pytest.mark.parametrize("fmt, data", [
    ("jpeg-progressive", corpus.encode(corpus.picture((200, 150)), "JPEG", progressive=True)),
    ("png-rgba", corpus.rgba_png(alpha=128, size=(90, 70))),
    ("gif-animated", corpus.animated("GIF")),
    ("webp", corpus.encode(corpus.picture((120, 90)), "WEBP")),
    ("bmp", corpus.encode(corpus.picture((120, 90)), "BMP")),
    ("tiff", corpus.encode(corpus.picture((120, 90)), "TIFF")),
    ("png-16bit", corpus.gray16_png()),
    ("jpeg-cmyk", corpus.cmyk_jpeg()),
    ("jpeg-wide-gamut", corpus.encode(corpus.picture((120, 90)), "JPEG",
                                      icc_profile=corpus.rgb_icc_profile())),
    ("jpeg-exif-rotated", corpus.jpeg((160, 90), orientation=6)),
    ("jpeg-large", corpus.jpeg((3000, 2000))),
])
async def test_every_format_and_mode_reaches_the_model(worker, fmt, data):
    response = await complete(worker, chat(image_url(b64(data))))
    assert image_tokens(response) > 0


async def test_several_images_in_one_message_and_interleaved_turns(worker, server):
    one = image_tokens(await complete(worker, chat(image_url(b64(JPEG)))))
    url = server.serve("/second.png", corpus.png((200, 100)))
    several = await complete(worker, chat(text("Compare"), image_url(b64(JPEG)), text("with"),
                                          image_url(url), text("and"),
                                          {"type": "image", "image": b64(corpus.png())}))
    assert image_tokens(several) > one
    turns = {"messages": [
        {"role": "user", "content": [image_url(b64(JPEG)), text("first")]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [text("again"), image_url(b64(JPEG)), image_url(url)]},
    ], "max_tokens": 4}
    response = await complete(worker, {"openai_route": "/v1/chat/completions",
                                       "openai_input": turns})
    assert image_tokens(response) > 2 * one
    assert server.paths.count("/second.png") == 2  # once per request, not per mention


async def test_streaming_with_an_image(worker):
    job = chat(text("Describe."), image_url(b64(JPEG)), stream=True,
               stream_options={"include_usage": True})
    outputs = [out async for out in worker.handle({"id": "img-stream", "input": job})]
    events = [e for e in "".join(outputs).split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    usage = [c["usage"] for c in chunks if c.get("usage")]
    text_only = await complete(worker, chat(text("Describe.")))
    assert usage[-1]["prompt_tokens"] > text_only["usage"]["prompt_tokens"]


async def test_native_generate_with_image_data(worker):
    response = await complete(worker, {
        "text": "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n",
        "image_data": b64(JPEG), "sampling_params": {"max_new_tokens": 4}})
    assert response["meta_info"]["prompt_tokens"] > 10


@pytest.mark.parametrize("part, param, fragment", [
    (image_url("data:image/png;base64,AAAA"), "messages[0].content[1]", "not a supported image"),
    (image_url(b64(b"%PDF-1.7\n%...")), "messages[0].content[1]", "detected PDF"),
    (image_url(b64(corpus.png_bomb())), "messages[0].content[1]", "MAX_IMAGE_PIXELS"),
    (image_url("http://127.0.0.1:9/missing.png"), "messages[0].content[1]", "could not connect"),
    (image_url("/etc/passwd"), "messages[0].content[1]", "IMAGE_LOCAL_DIR"),
])
async def test_bad_images_fail_the_job_naming_the_part(worker, part, param, fragment):
    outputs = [out async for out in worker.handle({"id": "bad", "input": chat(text("x"), part)})]
    assert len(outputs) == 1
    error = json.loads(outputs[0]["error"])["error"]
    assert error["param"] == param and error["code"] == 400
    assert fragment in error["message"]
