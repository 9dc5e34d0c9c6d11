"""Which frames of a clip the model sees, and at what size: SGLang's video sampling, pure.

Contract:
- ``VideoRules`` are the served model's video processor rules. ``video_rules(model_type,
  overrides, env)`` reads them as SGLang 0.5.23's Qwen-VL processor applies them
  (``multimodal/processors/qwen_vl.py``): 2 frames a second, at least 4 and at most 768
  frames, an even count (``frame_factor``), each frame between ``VIDEO_MIN_PIXELS`` (128 x 28 x
  28) and ``VIDEO_MAX_PIXELS`` (768 x 28 x 28) pixels with sides in multiples of 28, and all
  frames together within ``total_pixels`` (SGLang's ``VIDEO_MAX_PIXELS`` environment
  variable, default 128000 x 28 x 28 x 0.9). ``--mm-process-config``'s ``video`` keys
  (``fps``, ``min_frames``, ``max_frames``, ``nframes``, ``min_pixels``, ``max_pixels``,
  ``total_pixels``) replace them one by one, as they do in SGLang. Other model families have no
  rules of their own here: they get the same defaults, which bound the work; their video tokens
  are then the worker's choice rather than a copy of the direct path's.
- ``plan(total_frames, avg_fps, size, rules, fps, max_frames)`` is SGLang's own arithmetic on
  the clip's frame count and average rate (``smart_nframes``, then ``np.linspace(..., dtype=
  int64)`` and ``smart_resize``): the indices of the frames to keep, in presentation order,
  and the ``(width, height)`` every kept frame is resized to. The client's ``fps`` and
  ``max_frames`` can only lower the rules' values. A clip SGLang would refuse (fewer than two
  frames, an aspect ratio over 200) is a ``VideoError``.
- The worker hands SGLang a clip of exactly these frames at exactly this size, at ``rules.fps``
  frames a second: SGLang's sampler then keeps every frame (``n / fps * fps == n``) and its
  resize keeps every size (already a multiple of 28 inside the bounds), so the video tokens are
  those of the original clip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sglang_worker.errors import VideoError

Size = tuple[int, int]  # (width, height)

FACTOR = 28  # SGLang resizes video frames to multiples of IMAGE_FACTOR, whatever the model
MAX_ASPECT_RATIO = 200
DEFAULT_TOTAL_PIXELS = int(128000 * 28 * 28 * 0.9)
_OVERRIDES = ("fps", "min_frames", "max_frames", "nframes", "min_pixels", "max_pixels",
              "total_pixels")


@dataclass(frozen=True, slots=True)
class VideoRules:
    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    frame_factor: int = 2
    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 768 * 28 * 28
    total_pixels: int = DEFAULT_TOTAL_PIXELS
    nframes: int | None = None  # a fixed frame count (--mm-process-config), instead of fps

    def describe(self) -> str:
        count = (f"{self.nframes} frames" if self.nframes else
                 f"{self.fps:g} fps, {self.min_frames}..{self.max_frames} frames")
        return (f"{count}, {self.min_pixels}..{self.max_pixels} pixels a frame, "
                f"{self.total_pixels} in all")


@dataclass(frozen=True, slots=True)
class SamplePlan:
    indices: tuple[int, ...]  # presentation-order indices of the frames kept
    size: Size  # (width, height) of every kept frame


def video_rules(overrides: Mapping[str, Any], env: Mapping[str, str]) -> VideoRules:
    """The rules SGLang applies, with its environment's ``VIDEO_MAX_PIXELS`` and the
    ``--mm-process-config`` ``video`` settings (``overrides``)."""
    rules = VideoRules()
    if env.get("VIDEO_MAX_PIXELS"):
        rules = replace(rules, total_pixels=int(float(env["VIDEO_MAX_PIXELS"])))
    given = {key: overrides[key] for key in _OVERRIDES if overrides.get(key) is not None}
    if "fps" in given:
        given["fps"] = float(given["fps"])
    return replace(rules, **given)


def _round(number: float, factor: int) -> int:
    return round(number / factor) * factor


def _ceil(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def _floor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def frame_count(total_frames: int, avg_fps: float, rules: VideoRules,
                fps: float | None = None, max_frames: int | None = None) -> int:
    """How many frames SGLang samples (its ``smart_nframes``), the client's wishes applied."""
    factor = rules.frame_factor
    if rules.nframes:
        count = _round(rules.nframes, factor)
        if max_frames:
            count = min(count, _floor(max_frames, factor))
    else:
        rate = min(fps, rules.fps) if fps else rules.fps
        lowest = _ceil(rules.min_frames, factor)
        highest = _floor(min(rules.max_frames, max_frames or rules.max_frames, total_frames),
                         factor)
        count = total_frames / avg_fps * rate
        count = _floor(min(min(max(count, lowest), highest), total_frames), factor)
    if not factor <= count <= total_frames:
        raise VideoError(f"the video has {total_frames} frame(s), too few to sample "
                         f"{max(count, factor)} (the model reads a video as at least "
                         f"{factor} frames); send a single frame as an image")
    return count


def linspace_indices(total_frames: int, count: int) -> tuple[int, ...]:
    """``np.unique(np.linspace(0, total_frames - 1, count, dtype=np.int64))``, in plain Python
    (numpy truncates ``i * step`` and sets the last index to the end exactly)."""
    if count == 1:
        return (0,)
    step = (total_frames - 1) / (count - 1)
    values = [int(i * step) for i in range(count - 1)] + [total_frames - 1]
    return tuple(sorted(set(values)))


def frame_size(size: Size, count: int, rules: VideoRules) -> Size:
    """The size SGLang resizes every frame to (its ``smart_resize`` with its per-frame budget
    for ``count`` frames)."""
    width, height = size
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise VideoError(f"the video's frames are {width}x{height}, an aspect ratio over "
                         f"{MAX_ASPECT_RATIO}, which the model's processor refuses")
    max_pixels = max(min(rules.max_pixels, rules.total_pixels / count * rules.frame_factor),
                     int(rules.min_pixels * 1.05))
    h_bar = max(FACTOR, _round(height, FACTOR))
    w_bar = max(FACTOR, _round(width, FACTOR))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = _floor(height / beta, FACTOR)
        w_bar = _floor(width / beta, FACTOR)
    elif h_bar * w_bar < rules.min_pixels:
        beta = math.sqrt(rules.min_pixels / (height * width))
        h_bar = _ceil(height * beta, FACTOR)
        w_bar = _ceil(width * beta, FACTOR)
    return w_bar, h_bar


def plan(total_frames: int, avg_fps: float, size: Size, rules: VideoRules,
         fps: float | None = None, max_frames: int | None = None) -> SamplePlan:
    """The frames to keep and their size (see the module contract)."""
    if total_frames < 1 or not avg_fps > 0:
        raise VideoError("the video has no frames")
    count = frame_count(total_frames, avg_fps, rules, fps, max_frames)
    indices = linspace_indices(total_frames, count)
    return SamplePlan(indices, frame_size(size, len(indices), rules))
