"""Rerank and classify requests that a test runs against any base URL, so one module runs them
on bare SGLang and through a face of the worker, side by side (as ``score_cases`` does for
``/v1/score``).

What is compared is what SGLang computes: scores, indices, documents, labels, probabilities and
token counts; never ids, timestamps or ``meta_info`` latencies, which differ on every call.
``IMAGE`` is already sized for the tiny Qwen2-VL (84x56, multiples of 28, inside its pixel
bounds), so the worker hands it over as it came and the engine scores the same bytes.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import aiohttp
from PIL import Image

QUERY = "a small red picture"
DOCUMENTS = ["a dog sleeps under the table", "the picture shows a red square", "rain tomorrow"]


def png_data_url(size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


IMAGE = png_data_url((84, 56))


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def video_part(url: str) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": url}}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_documents(image: str = IMAGE) -> list[Any]:
    """A part document with the image, the same text without it, and a plain string."""
    return [[text_part("a picture"), image_part(image)], [text_part("a picture")], DOCUMENTS[0]]


async def post(url: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        return response.status, await response.json(content_type=None)


def ranked(response: Any) -> list[tuple[int, float, Any]]:
    """A rerank answer as (index, score, document) in the order given; meta_info left out."""
    assert isinstance(response, list), response
    return [(entry["index"], entry["score"], entry.get("document")) for entry in response]


async def rerank(url: str, body: dict[str, Any]) -> list[tuple[int, float, Any]]:
    status, response = await post(url, body)
    assert status == 200, response
    return ranked(response)


async def classify(url: str, body: dict[str, Any]) -> tuple[list[Any], int]:
    status, response = await post(url, body)
    assert status == 200, response
    return response["data"], response["usage"]["prompt_tokens"]


def assert_sglang_error(status: int, response: Any, param: str | None,
                        fragment: str = "") -> None:
    """The top-level error body bare SGLang answers in, from the worker's own refusal."""
    assert status == 400, response
    assert response["object"] == "error" and response["type"] == "BadRequestError", response
    assert response["code"] == 400 and response["param"] == param, response
    assert fragment in response["message"], response
