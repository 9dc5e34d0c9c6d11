"""OpenAI's Responses API (``/v1/responses``): input items in, a response object out.

Contract:
- Body: ``input`` (a string or a list of input items), ``model``, ``stream``. Nothing is
  stored: ``store`` is forced off (SGLang's default is on, and a stored response lives in one
  worker's memory, out of reach behind RunPod's load balancing), so ``store: true``,
  ``previous_response_id``, ``conversation`` and ``background: true`` are a 400 that says why.
  Tools and ``text.format`` pass through.
- ``input`` items of the message, function-call and reasoning kinds; message content parts
  ``input_text``, ``output_text``, ``refusal``, ``input_image`` (with an ``image_url``: a
  ``file_id`` image is refused, there is no file store) and chat's ``text`` and ``image_url``.
  ``input_file`` and ``item_reference`` (which points at a stored item) are refused.
- Image parts are named ``input[i].content[j]``: ``input_image`` with ``image_url`` a string
  or ``{"url", "detail"?}`` and ``detail`` on the part, or chat's ``image_url`` part. Each
  becomes ``{"type": "input_image", "image_url": <data URL>, "detail"?}`` (a chat-style part
  stays chat-style).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sglang_worker.apis.base import (
    Api,
    Medium,
    Slot,
    content_parts,
    entries,
    media,
    param_of,
    plain,
    refuse_kind,
    refused,
)
from sglang_worker.apis.chat import image_url_part
from sglang_worker.apis.rules import ENGINE_ONLY, ROUTING, SAMPLING, SCHEDULING
from sglang_worker.apis.shapes import Open
from sglang_worker.errors import ImageError, InvalidRequest
from sglang_worker.images import ImagePart, Location, check_detail
from sglang_worker.routes import RESPONSES_ROUTE

ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning",
                   "custom_tool_call", "custom_tool_call_output"})
PARTS = frozenset({"input_text", "output_text", "refusal", "input_image", "text", "image_url",
                   "summary_text", "reasoning_text"})
_IMAGE_TYPES = ("input_image", "image_url")
_NOT_STORED = ("this worker stores no responses, because a stored response lives in one "
               "worker's memory and RunPod may route the next request to another worker")


class ResponsesBody(Open):
    input: str | list[dict[str, Any]]
    model: str | None = None
    stream: bool = False


FIELDS = {
    **SAMPLING, **SCHEDULING, **ROUTING, **ENGINE_ONLY,
    "input": media("input items; image parts vetted, file and stored-item references refused"),
    "instructions": plain("the system prompt"),
    "max_output_tokens": plain("output length"),
    "max_tool_calls": plain("tool-calling option"),
    "tools": plain("function tools; SGLang's built-in tools need its --tool-server, which "
                   "this worker does not start"),
    "tool_choice": plain("tool-calling option"),
    "parallel_tool_calls": plain("tool-calling option"),
    "reasoning": plain("reasoning option"),
    "text": plain("output format"),
    "include": plain("output option"),
    "metadata": plain("echoed back in the response"),
    "service_tier": plain("accepted and ignored by SGLang"),
    "truncation": plain("context option"),
    "chat_template_kwargs": plain("chat template option"),
    "store": refused(f"{_NOT_STORED}; leave store unset or false"),
    "previous_response_id": refused(f"{_NOT_STORED}; send the earlier turns as input instead"),
    "background": refused("a background response would have to be fetched later from the "
                          "worker that ran it, which RunPod's routing does not allow; stream "
                          "instead"),
    "conversation": refused("this worker stores no conversations; send the earlier turns as "
                            "input instead"),
}


def check(body: dict[str, Any]) -> None:
    for i, item in entries(body.get("input")):  # objects: ResponsesBody checked that
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind not in ITEMS:
            raise refuse_kind(where, "input item type", kind, ITEMS)
        if kind != "message":
            continue
        for j, part in entries(item.get("content")):
            part_where = f"{where}.content[{j}]"
            if not isinstance(part, dict):
                raise InvalidRequest(f"{part_where} must be an object (a content part)",
                                     param=part_where)
            if part.get("type") not in PARTS:
                raise refuse_kind(part_where, "content part type", part.get("type"), PARTS)
            if part["type"] == "input_image" and part.get("image_url") is None:
                raise InvalidRequest(
                    f"{part_where}: an input_image needs an image_url (a URL or a data URL); "
                    "file_id images are not supported, because this worker has no file store",
                    param=part_where)


def store_off(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "store": False}


def image_slots(body: dict[str, Any]) -> Iterator[Slot]:
    return ((loc, part) for loc, part in content_parts(body, "input")
            if part.get("type") in _IMAGE_TYPES)


def _detail(part: dict[str, Any]) -> Any:
    image_url = part.get("image_url")
    if isinstance(image_url, dict) and image_url.get("detail") is not None:
        return image_url["detail"]
    return part.get("detail")


def image_part(location: Location, part: dict[str, Any]) -> ImagePart:
    param = param_of(location)
    value = part.get("image_url")
    if isinstance(value, dict):
        value = value.get("url")
    if not isinstance(value, str) or not value.strip():
        raise ImageError('an input_image needs "image_url": a URL or a data URL', param=param)
    return ImagePart(param, value, location, check_detail(_detail(part), param))


def put_image(part: dict[str, Any], url: str) -> dict[str, Any]:
    if part.get("type") == "image_url":
        return image_url_part(part, url)
    detail = _detail(part)
    return {"type": "input_image", "image_url": url,
            **({"detail": detail} if detail is not None else {})}


API = Api(
    name="responses", routes=(RESPONSES_ROUTE,), body_model=ResponsesBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:ResponsesRequest",),
    check=check, media={"image": Medium(image_slots, image_part, put_image)},
    finish=store_off, accepts={"input": "a string or a list of input items"},
)
