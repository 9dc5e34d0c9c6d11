"""OpenAI chat completions (``/v1/chat/completions``): the body, its content rules, its images.

Contract:
- Body: ``messages`` (at least one; each a ``role`` and ``content`` that is a string, a list of
  content parts or null), ``model``, ``stream``; everything else passes through as sent, under
  the field rules below. ``input_ids`` (SGLang's pre-tokenized prompt) is checked against the
  vocabulary like a completions prompt.
- Content parts: ``text``, ``image_url``, ``image``, ``video_url``, ``audio_url`` and
  ``input_audio`` only. ``file`` and any type SGLang learns later are refused, naming the part,
  because SGLang would fetch or read them itself with no address check.
- Image parts, in request order, each named ``messages[i].content[j]``:
    ``{"type": "image_url", "image_url": {"url": ..., "detail"?: ...}}``
    ``{"type": "image_url", "image_url": "<url>"}``   (string shorthand)
    ``{"type": "image", "image": "<url or data>"}``   (Qwen-VL and Xinference clients)
  Each becomes ``{"type": "image_url", "image_url": {"url": <data URL>, "detail"?}}``: nothing
  else of the part survives (SGLang's per-image sizing knobs, ``content_hash``, unknown keys),
  because the worker has already sized the image and only ``url`` and ``detail`` may reach
  SGLang.
- Video parts: ``{"type": "video_url", "video_url": {"url": ..., "fps"?, "max_frames"?}}`` (or
  the string shorthand). ``fps`` and ``max_frames`` can only lower the deployment's sampling
  (``video.sampling``); the part becomes ``{"type": "video_url", "video_url": {"url": <data URL
  of the worker's clip>}}`` and nothing else of it survives.
- Audio parts: ``{"type": "input_audio", "input_audio": {"data": <base64>, "format": ...}}``
  (OpenAI's shape; ``format`` one of ``audio.parts.FORMATS``, and the bytes must be that format)
  and ``{"type": "audio_url", "audio_url": {"url": ...}}`` (or the string shorthand). Both
  become ``{"type": "audio_url", "audio_url": {"url": <data URL of the worker's track>}}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from sglang_worker.apis.base import (
    Api,
    Medium,
    Slot,
    content_parts,
    dropped,
    media,
    param_of,
    plain,
    refuse_kind,
)
from sglang_worker.apis.rules import (
    ENGINE_ONLY,
    OUTPUT_EXTRAS,
    ROUTING,
    SAMPLING,
    SCHEDULING,
    SIZING_KNOBS,
)
from sglang_worker.apis.shapes import TOKEN_IDS, Open
from sglang_worker.audio.parts import AudioPart, check_format
from sglang_worker.errors import AudioError, ImageError, VideoError
from sglang_worker.images import ImagePart, Location, check_detail
from sglang_worker.routes import CHAT_ROUTE
from sglang_worker.video.parts import VideoPart, check_sampling

PARTS = frozenset({"text", "image_url", "image", "video_url", "audio_url", "input_audio"})
_AUDIO_TYPES = ("audio_url", "input_audio")
_IMAGE_TYPES = ("image_url", "image")
_SHAPES = ('expected {"type": "image_url", "image_url": {"url": "..."}} or '
           '{"type": "image", "image": "..."}')


class ChatMessage(Open):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(Open):
    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    stream: bool = False


CHAT_TEMPLATE = plain("chat template and tool-calling option")
FIELDS = {
    **SAMPLING, **OUTPUT_EXTRAS, **SCHEDULING, **ROUTING, **ENGINE_ONLY, **SIZING_KNOBS,
    "messages": media("text, image, video and audio parts, each medium vetted; other media "
                      "refused"),
    "input_ids": plain("a pre-tokenized prompt, checked against the vocabulary"),
    "max_completion_tokens": plain("output length"),
    **{name: CHAT_TEMPLATE for name in (
        "tools", "tool_choice", "parallel_tool_calls", "chat_template_kwargs",
        "continue_final_message", "reasoning_effort", "separate_reasoning", "stream_reasoning",
        "thinking", "task")},
    "use_audio_in_video": plain("inert: the worker's video clips carry no audio"),
}
NESTED = {
    "ChatCompletionMessageContentImageURL": {
        "url": media("the image, vetted and sized by the worker"),
        "detail": plain("low, high or auto; the worker sizes for it"),
        **{name: dropped("a per-image sizing knob or cache key; only url and detail survive")
           for name in ("max_dynamic_patch", "min_dynamic_patch", "max_long_side_pixel",
                        "content_hash")},
    },
    "ChatCompletionMessageContentAudioURL": {
        "url": media("the audio, probed, bounded and re-encoded by the worker"),
    },
    "ChatCompletionMessageContentInputAudio": {
        "data": media("the audio, probed, bounded and re-encoded by the worker"),
        "format": plain("wav, mp3, flac, ogg, m4a or webm; the bytes must agree"),
    },
    "ChatCompletionMessageContentVideoURL": {
        "url": media("the video, probed, bounded and re-encoded by the worker"),
        "fps": plain("may only lower the deployment's frame rate; applied by the worker"),
        "max_frames": plain("may only lower the deployment's frame count; applied by the "
                            "worker"),
        **{name: dropped("a per-video sizing knob; the worker has sized the clip")
           for name in ("max_tokens_per_frame", "max_image_tokens", "max_dynamic_patch",
                        "min_dynamic_patch", "max_long_side_pixel")},
    },
}


def check(body: dict[str, Any]) -> None:
    for location, part in content_parts(body, "messages"):
        if part.get("type") not in PARTS:
            raise refuse_kind(param_of(location), "content part type", part.get("type"), PARTS)


def image_slots(body: dict[str, Any]) -> Iterator[Slot]:
    return ((loc, part) for loc, part in content_parts(body, "messages")
            if part.get("type") in _IMAGE_TYPES)


def image_part(location: Location, part: dict[str, Any]) -> ImagePart:
    param = param_of(location)
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
    return ImagePart(param, value, location, check_detail(detail, param, "image_url.detail"))


def video_slots(body: dict[str, Any]) -> Iterator[Slot]:
    return ((loc, part) for loc, part in content_parts(body, "messages")
            if part.get("type") == "video_url")


def video_part(location: Location, part: dict[str, Any]) -> VideoPart:
    param = param_of(location)
    value, fps, max_frames = part.get("video_url"), None, None
    if isinstance(value, dict):
        fps, max_frames = value.get("fps"), value.get("max_frames")
        value = value.get("url")
    if not isinstance(value, str) or not value.strip():
        raise VideoError('video part has no video URL or data; expected {"type": "video_url", '
                         '"video_url": {"url": "..."}}', param=param)
    fps, max_frames = check_sampling(fps, max_frames, param)
    return VideoPart(param, value, location, fps, max_frames)


def video_url_part(part: dict[str, Any], url: str) -> dict[str, Any]:
    """The one shape a video part takes on its way to SGLang: the clip, and nothing else."""
    return {"type": "video_url", "video_url": {"url": url}}


def image_url_part(part: dict[str, Any], url: str) -> dict[str, Any]:
    """The one shape an image part takes on its way to SGLang."""
    old = part.get("image_url")
    detail = old.get("detail") if isinstance(old, dict) else None
    return {"type": "image_url",
            "image_url": {"url": url} if detail is None else {"url": url, "detail": detail}}


def audio_slots(body: dict[str, Any]) -> Iterator[Slot]:
    return ((loc, part) for loc, part in content_parts(body, "messages")
            if part.get("type") in _AUDIO_TYPES)


def audio_part(location: Location, part: dict[str, Any]) -> AudioPart:
    param = param_of(location)
    if part["type"] == "input_audio":
        inline = part.get("input_audio")
        data = inline.get("data") if isinstance(inline, dict) else None
        if not isinstance(data, str) or not data.strip():
            raise AudioError('input_audio part has no data; expected {"type": "input_audio", '
                             '"input_audio": {"data": "<base64>", "format": "wav"}}',
                             param=param)
        if data.lstrip()[:5].lower() == "data:" or "://" in data[:16]:
            raise AudioError("input_audio.data must be base64 audio bytes; send a URL or a data "
                             "URL as an audio_url part", param=param)
        return AudioPart(param, data, location, check_format(inline.get("format"), param))
    value = part.get("audio_url")
    if isinstance(value, dict):
        value = value.get("url")
    if not isinstance(value, str) or not value.strip():
        raise AudioError('audio part has no audio URL or data; expected {"type": "audio_url", '
                         '"audio_url": {"url": "..."}}', param=param)
    return AudioPart(param, value, location)


def audio_url_part(part: dict[str, Any], url: str) -> dict[str, Any]:
    """The one shape an audio part takes on its way to SGLang: the track, and nothing else."""
    return {"type": "audio_url", "audio_url": {"url": url}}


MEDIA = {
    "image": Medium(image_slots, image_part, image_url_part),
    "video": Medium(video_slots, video_part, video_url_part),
    "audio": Medium(audio_slots, audio_part, audio_url_part),
}
API = Api(
    name="chat", routes=(CHAT_ROUTE,), body_model=ChatBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:ChatCompletionRequest",),
    nested=NESTED, check=check, media=MEDIA, token_fields=("input_ids",),
    accepts={"content": "a string or a list of content parts", "input_ids": TOKEN_IDS},
)
