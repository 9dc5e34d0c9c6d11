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
- ``/v1/responses``: an entry of ``input[i].content`` (a message item) of type ``input_image``
  with ``image_url`` a string (a URL or a data URL) or ``{"url", "detail"?}``, and ``detail``
  on the part, or chat's ``image_url`` part. The param is ``input[0].content[1]``.
- ``/v1/messages`` and ``/v1/messages/count_tokens``: an ``image`` block of
  ``messages[i].content``, or of a ``tool_result`` block's own content, whose ``source`` is
  ``{"type": "base64", "media_type", "data"}`` or ``{"type": "url", "url"}``. The param
  names the source: ``messages[0].content[0].source``.
- Other routes carry no images.
- ``find_image_parts`` lists the parts in request order, each with its ``param`` (e.g.
  ``messages[0].content[2]`` or ``image_data[1]``) and its ``detail`` (OpenAI's
  ``image_url.detail``: ``"low"``, ``"high"``, ``"auto"`` or None when absent; the other shapes
  have none). Malformed image parts are refused, and so is any other ``detail`` value.
- ``replace_image_parts`` returns a new body: only the containers on the way to a replaced
  part are copied, the input is never mutated, and large strings are shared, not copied.
  Every replaced chat part becomes ``{"type": "image_url", "image_url": {"url": <new>}}``,
  keeping ``detail``; a Responses part becomes ``{"type": "input_image", "image_url": <new>}``
  (with its ``detail``); an Anthropic block's source becomes ``base64`` with the new image's
  media type. Nothing else of the part survives: SGLang's per-image sizing knobs
  (``max_pixels``, ``min_pixels``, ``max_dynamic_patch``, ``min_dynamic_patch``,
  ``max_long_side_pixel`` ...) and unknown keys are dropped, because the worker has already
  sized the image to the deployment's limits and only ``url`` and ``detail`` may reach SGLang.
- ``count_image_parts`` counts without validating and never raises: it is the cheap check that
  refuses images for a text-only model before any work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sglang_worker.errors import ImageError
from sglang_worker.routes import ANTHROPIC_ROUTES, CHAT_ROUTE, GENERATE_ROUTE, RESPONSES_ROUTE

# (message, part) for chat and Anthropic (message, block, inner block inside a tool_result);
# (item, part) for Responses; indices into image_data for /generate.
Location = tuple[int, ...]

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
    if route == RESPONSES_ROUTE:
        return sum(1 for _, part in _responses_parts(body) if _is_responses_image(part))
    if route in ANTHROPIC_ROUTES:
        return sum(1 for _, block in _anthropic_blocks(body) if block.get("type") == "image")
    return 0


def find_image_parts(route: str, body: dict[str, Any]) -> list[ImagePart]:
    """The image parts of ``body`` in request order; malformed ones raise ``ImageError``."""
    if route == CHAT_ROUTE:
        return [_chat_image(m, p, part) for m, p, part in _chat_parts(body)
                if part.get("type") in _CHAT_IMAGE_TYPES]
    if route == GENERATE_ROUTE:
        return _generate_images(body.get("image_data"))
    if route == RESPONSES_ROUTE:
        return [_responses_image(location, part) for location, part in _responses_parts(body)
                if _is_responses_image(part)]
    if route in ANTHROPIC_ROUTES:
        return [_anthropic_image(location, block) for location, block in _anthropic_blocks(body)
                if block.get("type") == "image"]
    return []


def replace_image_parts(route: str, body: dict[str, Any],
                        urls: Mapping[Location, str]) -> dict[str, Any]:
    """A copy of ``body`` with the image at each location replaced by its new URL."""
    if not urls:
        return body
    if route == CHAT_ROUTE:
        return _replace_nested(body, "messages", urls, _as_image_url_part)
    if route == RESPONSES_ROUTE:
        return _replace_nested(body, "input", urls, _as_input_image)
    if route in ANTHROPIC_ROUTES:
        return _replace_nested(body, "messages", urls, _as_base64_block)
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


def _replace_nested(body: dict[str, Any], key: str, urls: Mapping[Location, str],
                    rewrite: Callable[[dict[str, Any], str], dict[str, Any]]) -> dict[str, Any]:
    """Copy only the containers on the way to each location: ``body[key][i]["content"][j]``
    (and ``[...]["content"][k]`` one level deeper) is replaced by ``rewrite(part, url)``."""
    items = list(body[key])
    for i in sorted({location[0] for location in urls}):
        content = list(items[i]["content"])
        for location, url in urls.items():
            if location[0] != i:
                continue
            j = location[1]
            if len(location) == 2:
                content[j] = rewrite(content[j], url)
            else:  # an image inside a tool_result block's own content
                inner = list(content[j]["content"])
                inner[location[2]] = rewrite(inner[location[2]], url)
                content[j] = {**content[j], "content": inner}
        items[i] = {**items[i], "content": content}
    return {**body, key: items}


def _as_image_url_part(part: dict[str, Any], url: str) -> dict[str, Any]:
    old = part.get("image_url")
    detail = old.get("detail") if isinstance(old, dict) else None
    image_url = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": image_url}


def _as_input_image(part: dict[str, Any], url: str) -> dict[str, Any]:
    if part.get("type") == "image_url":
        return _as_image_url_part(part, url)
    detail = _responses_detail(part)
    return {"type": "input_image", "image_url": url,
            **({"detail": detail} if detail is not None else {})}


def _as_base64_block(block: dict[str, Any], url: str) -> dict[str, Any]:
    header, _, data = url.partition(",")
    media_type = header.removeprefix("data:").split(";", 1)[0]
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": data}}


def _responses_parts(body: dict[str, Any]) -> Iterator[tuple[Location, dict[str, Any]]]:
    items = body.get("input")
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict):
                    yield (i, j), part


def _is_responses_image(part: dict[str, Any]) -> bool:
    return part.get("type") in ("input_image", "image_url")


def _responses_detail(part: dict[str, Any]) -> Any:
    image_url = part.get("image_url")
    if isinstance(image_url, dict) and image_url.get("detail") is not None:
        return image_url["detail"]
    return part.get("detail")


def _responses_image(location: Location, part: dict[str, Any]) -> ImagePart:
    i, j = location
    param = f"input[{i}].content[{j}]"
    value = part.get("image_url")
    if isinstance(value, dict):
        value = value.get("url")
    if not isinstance(value, str) or not value.strip():
        raise ImageError('an input_image needs "image_url": a URL or a data URL', param=param)
    detail = _responses_detail(part)
    if detail is not None and detail not in DETAILS:
        raise ImageError(f'detail must be "low", "high" or "auto", got {detail!r:.40}',
                         param=param)
    return ImagePart(param, value, location, detail)


def _anthropic_blocks(body: dict[str, Any]) -> Iterator[tuple[Location, dict[str, Any]]]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            yield (i, j), block
            inner = block.get("content") if block.get("type") == "tool_result" else None
            if isinstance(inner, list):
                for k, inner_block in enumerate(inner):
                    if isinstance(inner_block, dict):
                        yield (i, j, k), inner_block


def _anthropic_image(location: Location, block: dict[str, Any]) -> ImagePart:
    param = f"messages[{location[0]}].content[{location[1]}]" + (
        f".content[{location[2]}]" if len(location) == 3 else "") + ".source"
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    value = source.get("data" if kind == "base64" else "url") if kind else None
    if not isinstance(value, str) or not value.strip():
        raise ImageError('an image block needs "source": {"type": "base64", "media_type": '
                         '..., "data": ...} or {"type": "url", "url": ...}', param=param)
    return ImagePart(param, value, location)


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
