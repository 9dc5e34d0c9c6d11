"""Find the image parts of a request body and write their replacements back: pure.

Contract:
- ``/v1/chat/completions``: an image part is an entry of ``messages[i].content`` (a list) in
  one of these shapes:
    ``{"type": "image_url", "image_url": {"url": ..., "detail"?: ...}}``
    ``{"type": "image_url", "image_url": "<url>"}``   (string shorthand)
    ``{"type": "image", "image": "<url or data>"}``   (Qwen-VL and Xinference clients)
  A message whose content is a string, text parts and every other field are never touched.
- ``/generate``: SGLang's native ``image_data``, a string, a list of strings, or a list of lists
  of strings (one list per prompt of a batch). Any other entry is refused, because SGLang would
  load it without the worker's checks.
- Other routes carry no images.
- ``find_image_parts`` lists the parts in request order, each with its ``param`` (e.g.
  ``messages[0].content[2]`` or ``image_data[1]``) and its ``detail`` (OpenAI's
  ``image_url.detail``: ``"low"``, ``"high"``, ``"auto"`` or None when absent; the other shapes
  have none). Malformed image parts are refused, and so is any other ``detail`` value.
- ``replace_image_parts`` returns a new body: only the containers on the way to a replaced
  part are copied, the input is never mutated, and large strings are shared, not copied.
  Every replaced chat part becomes ``{"type": "image_url", "image_url": {"url": <new>}}``,
  keeping ``detail`` and any other keys it had.
- ``count_image_parts`` counts without validating and never raises: it is the cheap check that
  refuses images for a text-only model before any work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sglang_worker.errors import ImageError
from sglang_worker.routes import CHAT_ROUTE, GENERATE_ROUTE

Location = tuple[int, ...]  # (message, part) for chat; indices into image_data for /generate

_CHAT_IMAGE_TYPES = ("image_url", "image")
DETAILS = ("low", "high", "auto")
_SHAPES = ('expected {"type": "image_url", "image_url": {"url": "..."}} or '
           '{"type": "image", "image": "..."}')


@dataclass(frozen=True, slots=True)
class ImagePart:
    param: str
    source: str
    location: Location
    detail: str | None = None


def count_image_parts(route: str, body: Any) -> int:
    """How many image parts ``body`` carries for ``route``; never raises."""
    if not isinstance(body, dict):
        return 0
    if route == CHAT_ROUTE:
        return sum(1 for _, _, part in _chat_parts(body)
                   if part.get("type") in _CHAT_IMAGE_TYPES)
    if route == GENERATE_ROUTE:
        return sum(1 for _ in _leaves(body.get("image_data")))
    return 0


def find_image_parts(route: str, body: dict[str, Any]) -> list[ImagePart]:
    """The image parts of ``body`` in request order; malformed ones raise ``ImageError``."""
    if route == CHAT_ROUTE:
        return [_chat_image(m, p, part) for m, p, part in _chat_parts(body)
                if part.get("type") in _CHAT_IMAGE_TYPES]
    if route == GENERATE_ROUTE:
        return _generate_images(body.get("image_data"))
    return []


def replace_image_parts(route: str, body: dict[str, Any],
                        urls: Mapping[Location, str]) -> dict[str, Any]:
    """A copy of ``body`` with the image at each location replaced by its new URL."""
    if not urls:
        return body
    if route == CHAT_ROUTE:
        return _replace_chat(body, urls)
    return {**body, "image_data": _replace_generate(body["image_data"], urls)}


def _chat_parts(body: dict[str, Any]) -> Iterator[tuple[int, int, dict[str, Any]]]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for p, part in enumerate(content):
                if isinstance(part, dict):
                    yield m, p, part


def _chat_image(m: int, p: int, part: dict[str, Any]) -> ImagePart:
    param = f"messages[{m}].content[{p}]"
    detail = None
    if part["type"] == "image":
        value = part.get("image")
    else:
        value = part.get("image_url")
        if isinstance(value, dict):
            detail = value.get("detail")
            value = value.get("url")
    if not isinstance(value, str) or not value.strip():
        raise ImageError(f"image part has no image URL or data; {_SHAPES}", param=param)
    if detail is not None and detail not in DETAILS:
        raise ImageError(f'image_url.detail must be "low", "high" or "auto", got {detail!r:.40}',
                         param=param)
    return ImagePart(param, value, (m, p), detail)


def _leaves(image_data: Any) -> Iterator[tuple[Location, Any]]:
    """The entries of ``image_data`` with their locations, whatever their type."""
    if image_data is None:
        return
    if not isinstance(image_data, list):
        yield (), image_data
        return
    for i, item in enumerate(image_data):
        if isinstance(item, list):
            for j, inner in enumerate(item):
                yield (i, j), inner
        else:
            yield (i,), item


def _generate_images(image_data: Any) -> list[ImagePart]:
    parts = []
    for location, value in _leaves(image_data):
        param = "image_data" + "".join(f"[{i}]" for i in location)
        if not isinstance(value, str) or not value.strip():
            raise ImageError("image_data entries must be non-empty strings (an image URL, a "
                             f"data URL or base64 data), got {type(value).__name__}",
                             param=param)
        parts.append(ImagePart(param, value, location))
    return parts


def _replace_chat(body: dict[str, Any], urls: Mapping[Location, str]) -> dict[str, Any]:
    messages = list(body["messages"])
    for m in sorted({m for m, _ in urls}):
        content = list(messages[m]["content"])
        for (mm, p), url in urls.items():
            if mm == m:
                content[p] = _as_image_url_part(content[p], url)
        messages[m] = {**messages[m], "content": content}
    return {**body, "messages": messages}


def _as_image_url_part(part: dict[str, Any], url: str) -> dict[str, Any]:
    old = part.get("image_url")
    if part["type"] == "image_url" and isinstance(old, dict):
        return {**part, "image_url": {**old, "url": url}}
    rest = {k: v for k, v in part.items() if k not in ("image", "image_url")}
    return {**rest, "type": "image_url", "image_url": {"url": url}}


def _replace_generate(image_data: Any, urls: Mapping[Location, str]) -> Any:
    if not isinstance(image_data, list):
        return urls[()]
    out = list(image_data)
    for location, url in urls.items():
        if len(location) == 1:
            out[location[0]] = url
        else:
            i, j = location
            if out[i] is image_data[i]:
                out[i] = list(image_data[i])
            out[i][j] = url
    return out
