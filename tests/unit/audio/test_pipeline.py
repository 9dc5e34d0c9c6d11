"""The audio pipeline with the deployed defaults: every source SGLang would fetch or open is
refused before a byte moves (the image guard's SSRF matrix, ``file://``, bare paths), local
files come only from AUDIO_LOCAL_DIR, the limits name their variables, and the decoder process
fails one request, never the worker: a decoder past its deadline is killed, and the pipeline
then serves the next file. Real decoder processes, no engine."""

from __future__ import annotations

import asyncio
import base64
import io
import signal

import av
import pytest

from sglang_worker.audio.parts import AudioPart
from sglang_worker.audio.pipeline import AudioPipeline, AudioReport
from sglang_worker.audio.rules import AudioRules
from sglang_worker.audio.track import TrackFacts
from sglang_worker.decoder.sandbox import read_answer
from sglang_worker.errors import AudioError
from sglang_worker.settings import Settings
from tests.support import audio_corpus as corpus
from tests.support.image_server import ConnectionCounter
from tests.unit.images.test_fetch import SSRF_HOSTS

RULES = AudioRules(16000, 30.0)
WAV = corpus.wav(16000, 2)
CLIP = corpus.data_url(WAV)
PREFIX = "data:audio/x-matroska;base64,"


def part(source: str, i: int = 1, format_: str | None = None) -> AudioPart:
    return AudioPart(f"messages[0].content[{i}]", source, ("messages", 0, "content", i), format_)


def parts(*sources: str) -> list[AudioPart]:
    return [part(s, i) for i, s in enumerate(sources)]


async def refusal(pipeline: AudioPipeline, *sources: str) -> AudioError:
    with pytest.raises(AudioError) as info:
        await pipeline.prepare(parts(*sources), RULES)
    return info.value


def track_length(url: str) -> int:
    """The samples of a prepared track URL, checked to be mono FLAC at 16 kHz."""
    assert url.startswith(PREFIX)
    with av.open(io.BytesIO(base64.b64decode(url.removeprefix(PREFIX)))) as track:
        context = track.streams.audio[0].codec_context
        assert (context.name, context.sample_rate, context.channels) == ("flac", 16000, 1)
        return sum(frame.samples for frame in track.decode(audio=0))


@pytest.fixture
async def pipeline():
    pipeline = AudioPipeline(Settings())
    yield pipeline
    await pipeline.close()


async def test_hostile_sources_are_refused_without_a_connection(pipeline):
    async with ConnectionCounter() as listener:
        for host, words in SSRF_HOSTS:
            error = await refusal(pipeline, f"http://{host}:{listener.port}/a.wav")
            assert error.param == "messages[0].content[0]"
            assert error.message.startswith("audio URL host ") and words in error.message, host
            assert error.message.endswith("audio URLs must point to public hosts")
        for local in ("file:///etc/hostname", "/etc/hostname", "file://other/x.wav"):
            error = await refusal(pipeline, local)
            assert error.message == "local audio files are not allowed (AUDIO_LOCAL_DIR is not " \
                                    "set)", local
        assert listener.connections == 0
    error = await refusal(pipeline, "ftp://example.com/a.wav")
    assert "unsupported URL scheme 'ftp'" in error.message


async def test_local_files_come_only_from_audio_local_dir(tmp_path):
    inside = tmp_path / "audio"
    inside.mkdir()
    (inside / "a.wav").write_bytes(corpus.wav(16000, 1))
    (tmp_path / "elsewhere.wav").write_bytes(corpus.wav(16000, 1))
    (inside / "link.wav").symlink_to(tmp_path / "elsewhere.wav")
    pipeline = AudioPipeline(Settings(audio_local_dir=inside))
    try:
        for source in (str(inside / "a.wav"), f"file://{inside / 'a.wav'}"):
            urls, report = await pipeline.prepare([part(source)], RULES)
            assert report.count == 1 and report.bytes_in == len(corpus.wav(16000, 1))
            assert track_length(urls[part("").location]) == 16000
        for outside in (str(inside / ".." / "elsewhere.wav"), str(inside / "link.wav"),
                        "/etc/hostname"):
            error = await refusal(pipeline, outside)
            assert error.message == "local audio path is outside AUDIO_LOCAL_DIR", outside
        error = await refusal(pipeline, str(inside / "missing.wav"))
        assert error.message == "local audio file does not exist"
    finally:
        await pipeline.close()


async def test_limits_name_their_variables(pipeline):
    error = await refusal(pipeline, *[CLIP] * 5)
    assert (error.param, error.message) == ("messages[0].content[4]", "request has 5 audio "
                                            "parts, over the limit of 4 "
                                            "(MAX_AUDIOS_PER_REQUEST)")
    for settings, sources, param, words in (
            (Settings(max_audio_bytes=1000), [CLIP], "messages[0].content[0]",
             "audio is about 62.5 KB, over the 1000 bytes limit (MAX_AUDIO_BYTES)"),
            # the second file alone is over the request's total
            (Settings(max_total_audio_bytes=100_000),
             [corpus.data_url(corpus.wav(16000, 1)), corpus.data_url(corpus.wav(16000, 4))],
             "messages[0].content[1]", "the audio files of this request total more than "
             "97.7 KB, the limit (MAX_TOTAL_AUDIO_BYTES)"),
            (Settings(max_audios_per_request=0), [CLIP], "messages[0].content[0]",
             "request has 1 audio parts, over the limit of 0 (MAX_AUDIOS_PER_REQUEST)"),
            (Settings(max_audio_seconds=1.5), [CLIP], "messages[0].content[0]",
             "the audio declares 2.0 s, over the 1.5 s limit (MAX_AUDIO_SECONDS)")):
        limited = AudioPipeline(settings)
        try:
            error = await refusal(limited, *sources)
            assert (error.param, error.message) == (param, words)
        finally:
            await limited.close()


async def test_the_earliest_bad_part_is_reported(pipeline):
    error = await refusal(pipeline, CLIP, "ftp://example.com/a.wav", "/etc/hostname")
    assert error.param == "messages[0].content[1]"
    error = await refusal(pipeline, CLIP, corpus.data_url(corpus.png()), "/etc/hostname")
    assert (error.param, error.message) == ("messages[0].content[2]", "local audio files are "
                                            "not allowed (AUDIO_LOCAL_DIR is not set)")


async def test_a_bad_file_is_refused_in_the_decoder_naming_its_part(pipeline):
    error = await refusal(pipeline, CLIP, corpus.data_url(corpus.png()))
    assert error.param == "messages[0].content[1]"
    assert error.message.startswith("audio container 'png_pipe' is not accepted")
    # input_audio.format reaches the decoder with the job
    with pytest.raises(AudioError) as info:
        await pipeline.prepare([part(corpus.b64(WAV), 3, "mp3")], RULES)
    assert (info.value.param, info.value.message) == (
        "messages[0].content[3]", "input_audio.format is 'mp3' but the data is WAV")
    # ... and the same pipeline serves the next request
    urls, report = await pipeline.prepare([part(corpus.b64(WAV), 3, "wav")], RULES)
    assert track_length(urls[("messages", 0, "content", 3)]) == 32000 and report.count == 1


async def test_the_tracks_come_back_in_request_order_with_their_report(pipeline):
    long = corpus.wav(48000, 40, 2)
    sources = [corpus.data_url(long), CLIP, corpus.data_url(corpus.mp3(44100, 3, 2),
                                                           "audio/mpeg")]
    urls, report = await pipeline.prepare(parts(*sources), RULES)
    assert [track_length(urls[p.location]) for p in parts(*sources)] == [480_000, 32000, 48000]
    assert report.count == 3 and report.seconds > 0
    assert report.bytes_in == len(long) + len(WAV) + len(corpus.mp3(44100, 3, 2))
    assert report.bytes_out == sum(len(url) for url in urls.values())
    assert [(f.container, f.rate_in, f.channels_in, f.cut) for f in report.facts] == [
        ("WAV", 48000, 2, True), ("WAV", 16000, 1, False), ("MP3", 44100, 2, False)]
    assert report.describe() == ("WAV:48000x2@30.0s>30.0s(cut),WAV:16000x1@2.0s>2.0s,"
                                 "MP3:44100x2@3.0s>3.0s")
    assert await pipeline.prepare([], RULES) == ({}, AudioReport())


def test_the_report_describes_each_file_and_nothing_as_a_dash():
    facts = (TrackFacts("WAV", "PCM", 48000, 2, 600.04, 30.0, True),
             TrackFacts("Ogg", "Opus", 48000, 1, 2.96, 2.96, False))
    assert AudioReport(2, 10, 20, 0.5, facts).describe() == (
        "WAV:48000x2@600.0s>30.0s(cut),Ogg:48000x1@3.0s>3.0s")
    assert AudioReport().describe() == "-"


async def test_a_decoder_that_overruns_is_killed_and_the_pipeline_serves_on(monkeypatch):
    children: list[asyncio.subprocess.Process] = []
    start = asyncio.create_subprocess_exec

    async def spawn(*args, **kwargs):
        children.append(await start(*args, **kwargs))
        return children[-1]

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn)
    pipeline = AudioPipeline(Settings(audio_decode_timeout_s=0.05, audio_workers=1,
                                      decoder_spares=0))
    try:
        # 30 s of 48 kHz stereo: a child that answers at once (os._exit) still needs well
        # over the 0.05 s deadline to start, decode and resample it.
        slow = corpus.data_url(corpus.wav(48000, 30, 2))
        for _ in range(2):  # one worker slot: the first deadline must have given it back
            error = await refusal(pipeline, slow)
            assert error.param == "messages[0].content[0]"
            assert error.message == "decoding the audio took longer than 0.05 s " \
                                    "(AUDIO_DECODE_TIMEOUT_S)"
    finally:
        await pipeline.close()
    assert [child.returncode for child in children] == [-signal.SIGKILL] * 2
    healthy = AudioPipeline(Settings(audio_workers=1, decoder_spares=0))
    try:
        urls, report = await healthy.prepare(parts(CLIP, CLIP), RULES)
        assert [track_length(url) for url in urls.values()] == [32000, 32000]
        assert report.count == 2
    finally:
        await healthy.close()
    assert len(children) == 4 and all(child.returncode == 0 for child in children[2:])


def test_a_decoder_killed_by_a_signal_is_reported_as_a_crash():
    with pytest.raises(AudioError, match=r"audio decoder crashed on this file \(killed by "
                                         r"SIGSEGV\): the file is damaged or hostile, or "
                                         r"needs more memory than "
                                         r"AUDIO_DECODE_MAX_MEMORY_MB allows"):
        read_answer(b"", -11, "audio")
    with pytest.raises(AudioError, match=r"crashed on this file \(exit status 1\)"):
        read_answer(b"", 1, "audio")
