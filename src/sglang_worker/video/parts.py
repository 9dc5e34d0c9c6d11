"""What an API module hands the video pipeline: one video part, where it sits, and the client's
sampling wishes.

Contract: ``VideoPart(param, source, location, fps, max_frames)``. ``source`` is the string as
sent (URL, data URL, base64 or local path). ``fps`` and ``max_frames`` are the client's
``video_url.fps`` / ``video_url.max_frames``, already checked by ``check_sampling``; they can
only lower the deployment's sampling budget (``sampling``), never raise it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sglang_worker.errors import VideoError
from sglang_worker.images.parts import Location


@dataclass(frozen=True, slots=True)
class VideoPart:
    param: str  # the part as the caller wrote it, e.g. "messages[0].content[1]"
    source: str
    location: Location
    fps: float | None = None
    max_frames: int | None = None


def check_sampling(fps: Any, max_frames: Any, param: str) -> tuple[float | None, int | None]:
    """The client's ``fps`` and ``max_frames``, checked: positive numbers or absent."""
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, int | float)
                            or not 0 < fps <= 240):
        raise VideoError(f"video_url.fps must be a number above 0 and at most 240, got {fps!r}",
                         param=param)
    if max_frames is not None and (isinstance(max_frames, bool)
                                   or not isinstance(max_frames, int) or max_frames < 2):
        raise VideoError(f"video_url.max_frames must be an integer of at least 2, got "
                         f"{max_frames!r}", param=param)
    return (float(fps) if fps is not None else None), max_frames
