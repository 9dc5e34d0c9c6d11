"""The video pipeline with the deployed defaults: every source SGLang would fetch or open is
refused before a byte moves (the image guard's SSRF matrix, ``file://``, bare paths), the
limits name their variables, and the decoder process fails one request, never the worker: a
decoder past its deadline is killed, one over its memory cap dies, and the same pipeline then
serves the next video. Real decoder processes, no engine."""

from __future__ import annotations

import pytest

from sglang_worker.decoder.sandbox import read_answer
from sglang_worker.errors import VideoError
from sglang_worker.settings import Settings
from sglang_worker.video.parts import VideoPart
from sglang_worker.video.pipeline import VideoPipeline
from sglang_worker.video.sampling import VideoRules
from tests.support import video_corpus as corpus
from tests.support.image_server import ConnectionCounter
from tests.unit.images.test_fetch import SSRF_HOSTS

CLIP = corpus.data_url(corpus.make_clip(320, 240, 2, 10))


def part(source: str, i: int = 1) -> VideoPart:
    return VideoPart(f"messages[0].content[{i}]", source, ("messages", 0, "content", i))


async def refusal(pipeline: VideoPipeline, *sources: str) -> VideoError:
    with pytest.raises(VideoError) as info:
        await pipeline.prepare([part(s, i) for i, s in enumerate(sources)], VideoRules())
    return info.value


@pytest.fixture
async def pipeline():
    pipeline = VideoPipeline(Settings())
    yield pipeline
    await pipeline.close()


async def test_hostile_sources_are_refused_without_a_connection(pipeline):
    async with ConnectionCounter() as listener:
        for host, words in SSRF_HOSTS:
            error = await refusal(pipeline, f"http://{host}:{listener.port}/v.mp4")
            assert error.param == "messages[0].content[0]"
            assert error.message.startswith("video URL host ") and words in error.message
            assert error.message.endswith("video URLs must point to public hosts")
        for local in ("file:///etc/hostname", "/etc/hostname", "file://other/x.mp4"):
            error = await refusal(pipeline, local)
            assert "local video" in error.message or "another host" in error.message, local
        assert listener.connections == 0
    error = await refusal(pipeline, "ftp://example.com/v.mp4")
    assert "unsupported URL scheme 'ftp'" in error.message


async def test_local_files_come_only_from_video_local_dir(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(corpus.make_clip(64, 48, 1, 10))
    pipeline = VideoPipeline(Settings(video_local_dir=tmp_path))
    try:
        urls, report = await pipeline.prepare([part(str(tmp_path / "clip.mp4"))], VideoRules())
        assert report.count == 1 and urls[part("").location].startswith("data:video/mp4;")
        error = await refusal(pipeline, str(tmp_path / ".." / "elsewhere.mp4"))
        assert error.message == "local video path is outside VIDEO_LOCAL_DIR"
    finally:
        await pipeline.close()


async def test_limits_name_their_variables(pipeline):
    error = await refusal(pipeline, *[CLIP] * 5)
    assert (error.param, error.message) == ("messages[0].content[4]", "request has 5 videos, "
                                            "over the limit of 4 (MAX_VIDEOS_PER_REQUEST)")
    small = VideoPipeline(Settings(max_video_bytes=1000))
    try:
        error = await refusal(small, CLIP)
        assert "over the 1000 bytes limit (MAX_VIDEO_BYTES)" in error.message
    finally:
        await small.close()


async def test_the_earliest_bad_video_is_reported(pipeline):
    error = await refusal(pipeline, CLIP, "ftp://example.com/v.mp4", "/etc/hostname")
    assert error.param == "messages[0].content[1]"


async def test_a_decoder_that_overruns_is_killed_and_the_pipeline_serves_on():
    pipeline = VideoPipeline(Settings(video_decode_timeout_s=0.05))
    try:
        error = await refusal(pipeline, CLIP)
        assert "took longer than 0.05 s (VIDEO_DECODE_TIMEOUT_S)" in error.message
    finally:
        await pipeline.close()
    starved = VideoPipeline(Settings(video_decode_max_memory_mb=256))
    try:
        # FFmpeg's allocations fail inside the cap; it reports them as it sees them.
        error = await refusal(starved, corpus.data_url(corpus.make_clip(1920, 1080, 1, 10)))
        assert error.param == "messages[0].content[0]" and error.message
    finally:
        await starved.close()
    healthy = VideoPipeline(Settings())
    try:
        urls, report = await healthy.prepare([part(CLIP)], VideoRules())
        assert report.facts[0].frames_out == 4 and len(urls) == 1
    finally:
        await healthy.close()


def test_a_decoder_killed_by_a_signal_is_reported_as_a_crash():
    with pytest.raises(VideoError, match=r"crashed on this file \(killed by SIGSEGV\)"):
        read_answer(b"", -11, "video")
    with pytest.raises(VideoError, match=r"crashed on this file \(exit status 1\)"):
        read_answer(b"", 1, "video")
