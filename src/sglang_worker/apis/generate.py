"""SGLang's native ``/generate``: text or token ids in, with ``image_data`` beside them.

Contract:
- Body: ``text`` (a non-empty string or a list of them) or ``input_ids`` (token ids, checked
  against the vocabulary), ``sampling_params`` (an object, or one per prompt), ``stream``.
  There is no ``model`` field.
- ``image_data``: a string, a list of strings, or a list of lists of strings (one list per
  prompt of a batch), each an image URL, data URL or base64 text, named ``image_data[1]`` or
  ``image_data[0][2]``. Any other entry (SGLang also takes pre-processed dicts and embeddings)
  is refused, because SGLang would load it without the worker's checks. ``video_data`` and
  ``audio_data`` take the same shapes for videos (``video_data[0]``) and audio
  (``audio_data[0]``), each turned into a vetted clip or track by the worker.
- ``GenerateReqInput`` is a dataclass with many engine-internal fields; each has a rule below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import field_validator, model_validator

from sglang_worker.apis.base import (
    Api,
    MediaKind,
    Medium,
    Part,
    Slot,
    media,
    plain,
    refused,
    string_part,
)
from sglang_worker.apis.rules import (
    ENGINE_ONLY,
    OUTPUT_EXTRAS,
    ROUTING,
    SCHEDULING,
    SIZING_KNOBS,
)
from sglang_worker.apis.shapes import TOKEN_IDS, Open, TokenIds, not_empty
from sglang_worker.images import Location
from sglang_worker.routes import GENERATE_ROUTE


class GenerateBody(Open):
    text: str | list[str] | None = None
    input_ids: TokenIds | None = None
    sampling_params: dict[str, Any] | list[dict[str, Any]] | None = None
    stream: bool = False

    _inputs_not_empty = field_validator("text", "input_ids")(not_empty)

    @model_validator(mode="after")
    def _one_input(self) -> GenerateBody:
        if self.text is None and self.input_ids is None:
            raise ValueError("give 'text' or 'input_ids'")
        return self


_BOOKKEEPING = refused("engine-internal bookkeeping that SGLang fills in itself")
_CACHE_KEYS = refused("caller-chosen media cache keys could make SGLang reuse another "
                      "request's image features")
FIELDS = {
    **OUTPUT_EXTRAS, **SCHEDULING, **ROUTING, **ENGINE_ONLY, **SIZING_KNOBS,
    "text": plain("the prompt"),
    "input_ids": plain("a pre-tokenized prompt, checked against the vocabulary"),
    "sampling_params": plain("sampling options; n bounded by MAX_N"),
    "stream": plain("stream the answer"),
    "image_data": media("images, each vetted and sized by the worker"),
    "video_data": media("videos, each probed, bounded and re-encoded by the worker"),
    "audio_data": media("audio, each probed, bounded and re-encoded by the worker"),
    "input_embeds": refused("raw input embeddings bypass the tokenizer and every input check"),
    "positional_embed_overrides": refused("overrides the model's input embeddings"),
    "mm_hashes": _CACHE_KEYS,
    "mm_content_hashes": _CACHE_KEYS,
    "modalities": _BOOKKEEPING,
    "received_time": _BOOKKEEPING,
    "need_wait_for_mm_inputs": _BOOKKEEPING,
    "num_items_assigned": _BOOKKEEPING,
    "kv_hints": _BOOKKEEPING,
    "multi_item_delimiter_indices": _BOOKKEEPING,
    "token_indices_to_pool": _BOOKKEEPING,
    "background": refused("a background request would have to be fetched later from the "
                          "worker that ran it, which RunPod's routing does not allow"),
    "log_metrics": plain("logging option"),
    "no_logs": plain("logging option"),
    "external_trace_header": plain("a tracing header"),
    "use_audio_in_video": plain("inert: the worker's video clips carry no audio"),
}


def _leaves(key: str, data: Any) -> Iterator[Slot]:
    if data is None:
        return
    if not isinstance(data, list):
        yield (key,), data
        return
    for i, item in enumerate(data):
        if isinstance(item, list):
            for j, inner in enumerate(item):
                yield (key, i, j), inner
        else:
            yield (key, i), item


def _medium(kind: MediaKind) -> Medium:
    key = f"{kind}_data"

    def slots(body: dict[str, Any]) -> Iterator[Slot]:
        return _leaves(key, body.get(key))

    def part(location: Location, value: Any) -> Part:
        return string_part(kind, location, value, f"each {key} entry")

    return Medium(slots, part)


API = Api(
    name="generate", routes=(GENERATE_ROUTE,), body_model=GenerateBody, fields=FIELDS,
    sglang_models=("sglang.srt.managers.io_struct:GenerateReqInput",),
    media={kind: _medium(kind) for kind in ("image", "video", "audio")},
    token_fields=("input_ids",),
    accepts={"text": "a non-empty string or a list of strings", "input_ids": TOKEN_IDS,
             "sampling_params": "an object or a list of objects"},
)
