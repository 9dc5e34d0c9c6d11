"""Which content each API may carry through the worker: pure checks, one per route.

Why: SGLang fetches or reads media itself, with no address check. So only what the worker
vets (text, and images through ``images/``) or what carries no media may pass; anything else
is refused with a 400 that names the part and says what is accepted. Allowlists, not
blocklists: a content type SGLang learns later is refused until the worker knows it.

Contract (``refuse_unvetted_media(route, body)``; the body's shape is already checked):
- ``/v1/chat/completions``: content parts ``text``, ``image_url`` and ``image`` only
  (``video_url``, ``audio_url``, ``input_audio``, ``file`` ... are refused).
- ``/generate``: ``video_data`` and ``audio_data`` are refused; ``image_data`` goes through the
  image pipeline.
- ``/v1/responses``: ``input`` items of the message, function-call and reasoning kinds; message
  content parts ``input_text``, ``output_text``, ``refusal``, ``input_image`` (with an
  ``image_url``: a ``file_id`` image is refused, there is no file store) and chat's ``text``
  and ``image_url``. ``input_file`` and ``item_reference`` (which points at a stored item) are
  refused.
- ``/v1/messages`` and ``/v1/messages/count_tokens``: content blocks ``text``, ``image`` (a
  ``base64`` or ``url`` source; a ``file`` source is refused), ``tool_use``, ``tool_result``
  (whose own content may hold ``text`` and ``image`` blocks), ``thinking`` and
  ``redacted_thinking``. ``document`` blocks (PDFs and text files, fetched by URL) are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sglang_worker.errors import InvalidRequest
from sglang_worker.routes import (
    ANTHROPIC_ROUTES,
    CHAT_ROUTE,
    GENERATE_ROUTE,
    RESPONSES_ROUTE,
)

CHAT_PARTS = frozenset({"text", "image_url", "image"})
UNVETTED_GENERATE_FIELDS = ("video_data", "audio_data")
RESPONSES_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning",
                             "custom_tool_call", "custom_tool_call_output"})
RESPONSES_PARTS = frozenset({"input_text", "output_text", "refusal", "input_image", "text",
                             "image_url", "summary_text", "reasoning_text"})
ANTHROPIC_BLOCKS = frozenset({"text", "image", "tool_use", "tool_result", "thinking",
                              "redacted_thinking"})
ANTHROPIC_TOOL_RESULT_BLOCKS = frozenset({"text", "image"})
ANTHROPIC_IMAGE_SOURCES = frozenset({"base64", "url"})


def _refuse(where: str, what: str, kind: Any, allowed: Iterable[str]) -> InvalidRequest:
    return InvalidRequest(f"{where}: {what} {kind!r} is not supported by this worker "
                          f"(supported: {', '.join(sorted(allowed))})", param=where)


def _parts(content: Any) -> list[tuple[int, Any]]:
    return list(enumerate(content)) if isinstance(content, list) else []


def _check_chat(body: dict[str, Any]) -> None:
    for i, message in enumerate(body["messages"]):
        for j, part in _parts(message.get("content")):
            kind = part.get("type")
            if kind not in CHAT_PARTS:
                raise _refuse(f"messages[{i}].content[{j}]", "content part type", kind,
                              CHAT_PARTS)


def _check_responses(body: dict[str, Any]) -> None:
    for i, item in _parts(body.get("input")):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where} must be an object (an input item)", param=where)
        kind = item.get("type", "message")
        if kind not in RESPONSES_ITEMS:
            raise _refuse(where, "input item type", kind, RESPONSES_ITEMS)
        if kind != "message":
            continue
        for j, part in _parts(item.get("content")):
            part_where = f"{where}.content[{j}]"
            if not isinstance(part, dict):
                raise InvalidRequest(f"{part_where} must be an object (a content part)",
                                     param=part_where)
            part_kind = part.get("type")
            if part_kind not in RESPONSES_PARTS:
                raise _refuse(part_where, "content part type", part_kind, RESPONSES_PARTS)
            if part_kind == "input_image" and part.get("image_url") is None:
                raise InvalidRequest(
                    f"{part_where}: an input_image needs an image_url (a URL or a data URL); "
                    "file_id images are not supported, because this worker has no file store",
                    param=part_where)


def _check_anthropic_image(where: str, block: dict[str, Any]) -> None:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind not in ANTHROPIC_IMAGE_SOURCES:
        raise _refuse(f"{where}.source", "image source type", kind, ANTHROPIC_IMAGE_SOURCES)


def _check_anthropic(body: dict[str, Any]) -> None:
    for i, message in enumerate(body["messages"]):
        for j, block in _parts(message.get("content")):
            where = f"messages[{i}].content[{j}]"
            if not isinstance(block, dict):
                raise InvalidRequest(f"{where} must be an object (a content block)",
                                     param=where)
            kind = block.get("type")
            if kind not in ANTHROPIC_BLOCKS:
                raise _refuse(where, "content block type", kind, ANTHROPIC_BLOCKS)
            if kind == "image":
                _check_anthropic_image(where, block)
            if kind != "tool_result":
                continue
            for k, inner in _parts(block.get("content")):
                inner_where = f"{where}.content[{k}]"
                inner_kind = inner.get("type") if isinstance(inner, dict) else None
                if inner_kind not in ANTHROPIC_TOOL_RESULT_BLOCKS:
                    raise _refuse(inner_where, "tool_result block type", inner_kind,
                                  ANTHROPIC_TOOL_RESULT_BLOCKS)
                if inner_kind == "image":
                    _check_anthropic_image(inner_where, inner)


def refuse_unvetted_media(route: str, body: dict[str, Any]) -> None:
    if route == GENERATE_ROUTE:
        for field in UNVETTED_GENERATE_FIELDS:
            if body.get(field) is not None:
                raise InvalidRequest(f"{field} is not supported by this worker; only images "
                                     "are accepted", param=field)
    elif route == CHAT_ROUTE:
        _check_chat(body)
    elif route == RESPONSES_ROUTE:
        _check_responses(body)
    elif route in ANTHROPIC_ROUTES:
        _check_anthropic(body)
