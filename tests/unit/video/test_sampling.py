"""SGLang's video sampling and sizing, restated by the worker: checked against SGLang's own
functions (``smart_nframes``, ``smart_resize``, numpy's ``linspace``) over a sweep of clip
shapes, so an SGLang upgrade that changes them fails here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sglang.srt.multimodal.processors import qwen_vl

from sglang_worker.errors import VideoError
from sglang_worker.video.sampling import (
    FACTOR,
    VideoRules,
    frame_count,
    frame_size,
    linspace_indices,
    plan,
    video_rules,
)

CLIPS = [(total, fps) for total, fps in itertools.product(
    (2, 3, 4, 5, 9, 20, 61, 150, 301, 900, 1800, 3000, 20000), (1.0, 2.0, 7.5, 23.976, 30.0,
                                                                  59.94, 120.0))
    if total / fps * 2 <= total or total <= 8]
SIZES = [(640, 360), (360, 640), (334, 198), (1920, 1080), (3840, 2160), (64, 48), (28, 28),
         (4000, 21), (2160, 3840)]


@pytest.mark.parametrize(("total", "fps"), CLIPS)
def test_the_frame_count_and_indices_are_sglangs(total, fps):
    try:
        expected = qwen_vl.smart_nframes({}, total_frames=total, video_fps=fps)
    except ValueError:
        with pytest.raises(VideoError):
            frame_count(total, fps, VideoRules())
        return
    assert frame_count(total, fps, VideoRules()) == expected
    numpy = np.unique(np.linspace(0, total - 1, num=expected, dtype=np.int64)).tolist()
    assert list(linspace_indices(total, expected)) == numpy


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("count", [2, 4, 10, 60, 200, 768])
def test_the_frame_size_is_sglangs_smart_resize_with_its_budget(size, count):
    rules = VideoRules()
    width, height = size
    budget = max(min(qwen_vl.VIDEO_MAX_PIXELS, qwen_vl.VIDEO_TOTAL_PIXELS / count * 2),
                 int(qwen_vl.VIDEO_MIN_PIXELS * 1.05))
    h, w = qwen_vl.smart_resize(height, width, factor=28, min_pixels=qwen_vl.VIDEO_MIN_PIXELS,
                                max_pixels=budget)
    assert frame_size(size, count, rules) == (w, h)
    # The worker's clip is at that size: SGLang's resize leaves it alone.
    again = frame_size((w, h), count, rules)
    assert again == (w, h) and w % FACTOR == h % FACTOR == 0


def test_the_rules_are_sglangs_constants_and_take_the_deployments_overrides():
    rules = VideoRules()
    assert (rules.fps, rules.min_frames, rules.max_frames, rules.frame_factor) == (
        qwen_vl.FPS, qwen_vl.FPS_MIN_FRAMES, qwen_vl.FPS_MAX_FRAMES, qwen_vl.FRAME_FACTOR)
    assert (rules.min_pixels, rules.max_pixels, rules.total_pixels) == (
        qwen_vl.VIDEO_MIN_PIXELS, qwen_vl.VIDEO_MAX_PIXELS, qwen_vl.VIDEO_TOTAL_PIXELS)
    tuned = video_rules({"fps": 1, "max_frames": 32, "image": "ignored"},
                        {"VIDEO_MAX_PIXELS": "1e6"})
    assert (tuned.fps, tuned.max_frames, tuned.total_pixels) == (1.0, 32, 1_000_000)


def test_the_clients_fps_and_max_frames_only_lower_the_budget():
    rules = VideoRules()
    assert frame_count(300, 30.0, rules) == 20
    assert frame_count(300, 30.0, rules, fps=1.0) == 10
    assert frame_count(300, 30.0, rules, fps=10.0) == 20  # never above the deployment's 2
    assert frame_count(300, 30.0, rules, max_frames=6) == 6
    assert frame_count(300, 30.0, rules, max_frames=5000) == 20


def test_the_workers_clip_is_sampled_whole_by_sglang():
    sampling = plan(900, 30.0, (1920, 1080), VideoRules())
    count = len(sampling.indices)
    # The clip holds exactly these frames at the rules' rate; SGLang then keeps all of them.
    assert qwen_vl.smart_nframes({}, total_frames=count, video_fps=2.0) == count


def test_clips_sglang_would_refuse_are_refused_clearly():
    with pytest.raises(VideoError, match="send a single frame as an image"):
        plan(1, 30.0, (640, 360), VideoRules())
    with pytest.raises(VideoError, match="aspect ratio over 200"):
        plan(100, 30.0, (4020, 20), VideoRules())
    with pytest.raises(VideoError, match="no frames"):
        plan(0, 30.0, (640, 360), VideoRules())
