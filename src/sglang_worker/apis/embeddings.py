"""OpenAI embeddings (``/v1/embeddings``), with SGLang's multimodal inputs.

Contract:
- ``input``: a non-empty string, a list of strings, token ids (checked against the
  vocabulary), or a list of multimodal inputs ``{"text"?, "image"?, "video"?}`` as SGLang's
  ``MultimodalEmbeddingInput`` has them (for a multimodal embedding model such as GME, served
  with ``--is-embedding``).
- ``input[i].image`` is an image like any other: a URL, data URL or base64 text, fetched,
  checked, bounded and sized by the worker, then handed to SGLang as a data URL; errors name
  the part (``input[2].image``). ``input[i].video`` is a video like any other: probed,
  bounded and re-encoded by the worker into a small clip (``input[2].video``).
- ``embed_overrides`` and ``embed_override_token_id`` (raw embeddings spliced into the input)
  are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import field_validator

from sglang_worker.apis.base import (
    Api,
    MediaKind,
    Medium,
    Part,
    Slot,
    entries,
    media,
    plain,
    refused,
    string_part,
)
from sglang_worker.apis.rules import ENGINE_ONLY, SCHEDULING
from sglang_worker.apis.shapes import Open, TokenIds, not_empty
from sglang_worker.errors import InvalidRequest
from sglang_worker.images import Location
from sglang_worker.routes import EMBEDDINGS_ROUTE


class EmbeddingsBody(Open):
    input: str | list[str] | TokenIds | list[dict[str, Any]]
    model: str | None = None

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("is empty: give at least one input")
        return value if isinstance(value, list) and isinstance(value[0], dict) \
            else not_empty(value)


FIELDS = {
    **SCHEDULING, **ENGINE_ONLY,
    "input": media("text, token ids, or multimodal inputs whose images and videos the worker "
                   "vets"),
    "model": plain("the served model"),
    "encoding_format": plain("float or base64 output"),
    "dimensions": plain("output size"),
    "user": plain("caller tag"),
    "embed_overrides": refused("raw embeddings spliced into the input bypass every input "
                               "check"),
    "embed_override_token_id": refused("raw embeddings spliced into the input bypass every "
                                       "input check"),
}
NESTED = {
    "MultimodalEmbeddingInput": {
        "text": plain("the text of this input"),
        "image": media("the image, vetted and sized by the worker"),
        "video": media("the video, probed, bounded and re-encoded by the worker"),
    },
}


def _items(body: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    return ((i, item) for i, item in entries(body.get("input")) if isinstance(item, dict))


def check(body: dict[str, Any]) -> None:
    for i, item in _items(body):
        if not any(item.get(key) is not None for key in ("text", "image", "video")):
            raise InvalidRequest(f'input[{i}] needs "text", "image" or "video"',
                                 param=f"input[{i}]")


def _medium(kind: MediaKind) -> Medium:
    def slots(body: dict[str, Any]) -> Iterator[Slot]:
        return (((("input", i, kind)), item[kind]) for i, item in _items(body)
                if item.get(kind) is not None)

    def part(location: Location, value: Any) -> Part:
        return string_part(kind, location, value, f"an embedding input's {kind}")

    return Medium(slots, part)


API = Api(
    name="embeddings", routes=(EMBEDDINGS_ROUTE,), body_model=EmbeddingsBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:EmbeddingRequest",),
    nested=NESTED, check=check, media={kind: _medium(kind) for kind in ("image", "video")},
    streams=False, token_fields=("input",),
    accepts={"input": "a non-empty string, a list of strings, token ids, or a list of "
                      'multimodal inputs {"text", "image", "video"}'},
)
