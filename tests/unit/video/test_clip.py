"""The decoder's own checks, on real files made with PyAV: every bad input of issue 20 is
refused with a message that says what is wrong, and good clips come out as planned. These run
``clip.prepare_clip`` in the test process (the decoder process runs the same function; its
isolation is tested in ``test_pipeline``)."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from sglang_worker.errors import VideoError
from sglang_worker.video.clip import ClipJob, prepare_clip
from sglang_worker.video.sampling import VideoRules
from tests.support import video_corpus as corpus

JOB = ClipJob(VideoRules(), max_seconds=600, max_frame_pixels=4096 * 2304)
BASE = corpus.make_clip(320, 240, 2, 10)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    return buffer.getvalue()


def no_frames() -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as target:
        stream = target.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    return out.getvalue()


BAD = {
    "truncated MP4 (moov at the end, cut in half)": (BASE[: len(BASE) // 2],
                                                     "damaged or truncated"),
    "truncated MP4 (last 5% cut)": (BASE[: len(BASE) * 95 // 100], "damaged or truncated"),
    "zero frames": (no_frames(), "cannot be opened as a video"),
    "audio-only MP4": (corpus.audio_only_mp4(), "no video stream"),
    "a PNG": (png(), "video container 'png_pipe' is not accepted"),
    "a PDF": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "cannot be opened"),
    "ten hours claimed": (corpus.with_frames_spread_over(BASE, 36000),
                          "declares 36000.0 s, over the 600 s limit (MAX_VIDEO_SECONDS)"),
    "a frame over the pixel limit": (corpus.make_clip(4608, 2592, 0.2, 10),
                                     "4608x2592 (11943936 pixels), over the 9437184 pixel "
                                     "limit (MAX_VIDEO_FRAME_PIXELS)"),
    "a 1-pixel-wide stream": (corpus.make_clip(1, 64, 2, 10, pix_fmt="yuv444p"),
                              "1x64; each side must be at least 8 pixels"),
    "an unsupported codec (MPEG-4 Part 2)": (corpus.make_clip(320, 240, 2, 10, codec="mpeg4"),
                                             "video codec 'mpeg4' is not accepted"),
    "a single frame": (corpus.make_clip(320, 240, 0.1, 10), "send a single frame as an image"),
    "random bytes": (bytes(range(256)) * 64, "cannot be opened as a video"),
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_file_is_refused_saying_what_is_wrong(name):
    data, words = BAD[name]
    with pytest.raises(VideoError) as info:
        prepare_clip(data, JOB)
    assert words in info.value.message


def test_the_length_limit_is_the_deployments():
    stretched = corpus.with_frames_spread_over(BASE, 300)
    _, facts = prepare_clip(stretched, JOB)
    assert facts.seconds == pytest.approx(300, abs=1)
    with pytest.raises(VideoError, match="over the 100 s limit"):
        prepare_clip(stretched, ClipJob(VideoRules(), max_seconds=100,
                                        max_frame_pixels=4096 * 2304))


def test_a_good_clip_comes_out_with_the_planned_frames_at_the_planned_size():
    clip, facts = prepare_clip(corpus.make_clip(640, 360, 5, 30), JOB)
    assert (facts.frames_in, facts.frames_out, facts.size_out) == (150, 10, (644, 364))
    with av.open(io.BytesIO(clip)) as out:
        stream = out.streams.video[0]
        frames = list(out.decode(stream))
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 2.0
    assert [(f.width, f.height) for f in frames] == [(644, 364)] * 10


def test_a_rotated_clip_is_turned_upright():
    clip, facts = prepare_clip(corpus.make_clip(320, 180, 2, 30, rotation=90), JOB)
    assert facts.rotation == 270 and facts.size_out[0] < facts.size_out[1]
    with av.open(io.BytesIO(clip)) as out:
        frame = next(out.decode(video=0))
    assert (frame.width, frame.height) == facts.size_out and not frame.rotation


def test_the_clients_wishes_lower_the_frame_count():
    lower = ClipJob(VideoRules(), 600, 4096 * 2304, fps=1.0, max_frames=4)
    _, facts = prepare_clip(corpus.make_clip(320, 240, 10, 10), lower)
    assert facts.frames_out == 4
