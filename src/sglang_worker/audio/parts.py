"""What an API module hands the audio pipeline: one audio part, where it sits, and the format
the caller declared.

Contract: ``AudioPart(param, source, location, format)``. ``source`` is the string as sent (a
URL, a data URL, bare base64 or a local path). ``format`` is ``input_audio.format`` (checked by
``check_format`` against ``FORMATS``), or None where the caller names none (``audio_url``,
``audio_data``); the decoder refuses a file whose bytes are another format than the one named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sglang_worker.errors import AudioError
from sglang_worker.images.parts import Location

# input_audio.format values: OpenAI's two, and the other containers the decoder accepts.
FORMATS = ("wav", "mp3", "flac", "ogg", "m4a", "webm")


@dataclass(frozen=True, slots=True)
class AudioPart:
    param: str  # the part as the caller wrote it, e.g. "messages[0].content[1]"
    source: str
    location: Location
    format: str | None = None


def check_format(value: Any, param: str) -> str:
    """``input_audio.format``, checked: one of ``FORMATS``."""
    if not isinstance(value, str) or value.lower() not in FORMATS:
        raise AudioError(f"input_audio.format must be one of {', '.join(FORMATS)}, got "
                         f"{value!r:.40}", param=param)
    return value.lower()
