"""What the decoder children's FFmpeg code shares (``video.clip``, ``audio.track``): the
length a container declares, and FFmpeg's reason for a failure in words a caller can read.
Runs in the decoder process only."""

from __future__ import annotations

import av


def declared_seconds(source: av.container.InputContainer, stream: av.stream.Stream) -> float:
    """The stream's declared duration, else the container's; 0 when neither says."""
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    return source.duration / av.time_base if source.duration else 0.0


def reason(exc: av.FFmpegError) -> str:
    return (exc.strerror or type(exc).__name__).rstrip(".")
