"""Anthropic's Messages API (``/v1/messages``) and its token count (``/v1/messages/count_tokens``).

Contract:
- Body: ``messages`` (at least one, each a ``role`` and ``content``, a string or a list of
  content blocks) and, for ``/v1/messages``, ``max_tokens``, as Anthropic's API has them.
  Errors on these routes take Anthropic's shape (``routes.Route.error_shape``).
- Content blocks ``text``, ``image`` (a ``base64`` or ``url`` source; a ``file`` source is
  refused), ``tool_use``, ``tool_result`` (whose own content may hold ``text`` and ``image``
  blocks), ``thinking`` and ``redacted_thinking``. ``document`` blocks (PDFs and text files,
  fetched by URL) are refused.
- ``tools`` are custom tools (an ``input_schema``; ``type`` absent or ``"custom"``). Anthropic's
  server tools (``web_search_*``, ``computer_*``, ``bash_*``, ``text_editor_*``) are refused:
  SGLang has no implementation and would drop them silently.
- Image blocks are named by their source, ``messages[i].content[j].source`` (or
  ``messages[i].content[j].content[k].source`` inside a ``tool_result``); each source becomes
  ``{"type": "base64", "media_type", "data"}`` of the prepared image.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field, StrictInt

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
)
from sglang_worker.apis.rules import ROUTING, SAMPLING
from sglang_worker.apis.shapes import Open
from sglang_worker.errors import ImageError, InvalidRequest
from sglang_worker.images import ImagePart, Location
from sglang_worker.routes import COUNT_TOKENS_ROUTE, MESSAGES_ROUTE

BLOCKS = frozenset({"text", "image", "tool_use", "tool_result", "thinking",
                    "redacted_thinking"})
TOOL_RESULT_BLOCKS = frozenset({"text", "image"})
IMAGE_SOURCES = frozenset({"base64", "url"})


class AnthropicMessage(Open):
    role: str
    content: str | list[dict[str, Any]]


class CountTokensBody(Open):
    messages: list[AnthropicMessage] = Field(min_length=1)
    model: str | None = None


class MessagesBody(CountTokensBody):
    max_tokens: StrictInt
    stream: bool = False


_OPTION = plain("a Messages API option")
FIELDS = {
    **SAMPLING, **ROUTING,
    "messages": media("content blocks; image sources vetted, documents and files refused"),
    "stop_sequences": plain("sampling option"),
    "tools": plain("custom tools; Anthropic's server tools are refused (SGLang would drop "
                   "them silently)"),
    **{name: _OPTION for name in ("system", "metadata", "thinking", "tool_choice", "betas",
                                  "output_config")},
}


def _blocks(body: dict[str, Any]) -> Iterator[tuple[Location, dict[str, Any]]]:
    """Every content block, and every block inside a tool_result's own content."""
    for location, block in content_parts(body, "messages"):
        yield location, block
        if block.get("type") == "tool_result":
            for k, inner in entries(block.get("content")):
                if isinstance(inner, dict):
                    yield (*location, "content", k), inner


def _check_image_source(where: str, block: dict[str, Any]) -> None:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind not in IMAGE_SOURCES:
        raise refuse_kind(f"{where}.source", "image source type", kind, IMAGE_SOURCES)


def _check_tools(body: dict[str, Any]) -> None:
    for i, tool in entries(body.get("tools")):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind not in (None, "custom"):
            raise InvalidRequest(f"tools[{i}]: the server tool {kind!r} is not supported: "
                                 "SGLang runs no Anthropic server tools (web search, computer, "
                                 "bash, text editor); define a custom tool with an "
                                 "input_schema instead", param=f"tools[{i}]")


def check(body: dict[str, Any]) -> None:
    _check_tools(body)
    for i, message in entries(body["messages"]):
        for j, block in entries(message.get("content")):  # objects: the body model checked
            where = f"messages[{i}].content[{j}]"
            kind = block.get("type")
            if kind not in BLOCKS:
                raise refuse_kind(where, "content block type", kind, BLOCKS)
            if kind == "image":
                _check_image_source(where, block)
            if kind != "tool_result":
                continue
            for k, inner in entries(block.get("content")):
                inner_where = f"{where}.content[{k}]"
                inner_kind = inner.get("type") if isinstance(inner, dict) else None
                if inner_kind not in TOOL_RESULT_BLOCKS:
                    raise refuse_kind(inner_where, "tool_result block type", inner_kind,
                                      TOOL_RESULT_BLOCKS)
                if inner_kind == "image":
                    _check_image_source(inner_where, inner)


def image_slots(body: dict[str, Any]) -> Iterator[Slot]:
    return ((loc, block) for loc, block in _blocks(body) if block.get("type") == "image")


def image_part(location: Location, block: dict[str, Any]) -> ImagePart:
    param = param_of(location) + ".source"
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    value = source.get("data" if kind == "base64" else "url") if kind else None
    if not isinstance(value, str) or not value.strip():
        raise ImageError('an image block needs "source": {"type": "base64", "media_type": '
                         '..., "data": ...} or {"type": "url", "url": ...}', param=param)
    return ImagePart(param, value, location)


def put_image(block: dict[str, Any], url: str) -> dict[str, Any]:
    header, _, data = url.partition(",")
    media_type = header.removeprefix("data:").split(";", 1)[0]
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": data}}


_COMMON = dict(fields=FIELDS, check=check,
               media={"image": Medium(image_slots, image_part, put_image)},
               accepts={"content": "a string or a list of content blocks"})
API = Api(name="messages", routes=(MESSAGES_ROUTE,), body_model=MessagesBody,
          sglang_models=("sglang.srt.entrypoints.anthropic.protocol:AnthropicMessagesRequest",),
          **_COMMON)
COUNT_TOKENS_API = Api(
    name="count_tokens", routes=(COUNT_TOKENS_ROUTE,), body_model=CountTokensBody,
    sglang_models=("sglang.srt.entrypoints.anthropic.protocol:AnthropicCountTokensRequest",),
    streams=False, **_COMMON)
