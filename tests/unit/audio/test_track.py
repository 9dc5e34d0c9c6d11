"""The audio decoder's own work, on real files made with PyAV: every good file of the corpus
comes out as a mono FLAC track in Matroska at the model's rate, as long as SGLang's own loader
would make it (and cut at the model's window), and every bad file is refused with a message
that says what is wrong. These run ``track.prepare_track`` in the test process (the decoder
process runs the same function; its isolation is tested in ``test_pipeline``)."""

from __future__ import annotations

import io
import math
import struct

import av
import numpy as np
import pytest

from sglang_worker.audio.rules import AudioRules
from sglang_worker.audio.track import TrackJob, prepare_track, wav_header_seconds
from sglang_worker.errors import AudioError
from tests.support import audio_corpus as corpus

WINDOWED = AudioRules(16000, 30.0)  # Qwen2-Audio's: 16 kHz, the first 30 s
WHOLE = AudioRules(16000, None)  # a model that reads the whole clip
JOB = TrackJob(WINDOWED, max_seconds=900)
# The sweep's files: (container, codec, rate in, channels in, seconds).
EXPECTED = {
    "wav 16 kHz mono 5 s": ("WAV", "PCM", 16000, 1, 5.0),
    "wav 48 kHz stereo 5 s": ("WAV", "PCM", 48000, 2, 5.0),
    "wav 44.1 kHz stereo 3.3 s": ("WAV", "PCM", 44100, 2, 3.3),
    "wav 22.05 kHz mono 20 s": ("WAV", "PCM", 22050, 1, 20.0),
    "wav 8 kHz mono 7.77 s": ("WAV", "PCM", 8000, 1, 7.77),
    "wav 48 kHz stereo 40 s (past the window)": ("WAV", "PCM", 48000, 2, 40.0),
    "flac 16 kHz mono 4 s": ("FLAC", "FLAC", 16000, 1, 4.0),
    "mp3 44.1 kHz stereo 6 s": ("MP3", "MP3", 44100, 2, 6.0),
    "ogg opus 48 kHz mono 3 s": ("Ogg", "Opus", 48000, 1, 3.0),
    "ogg vorbis 44.1 kHz stereo 3 s": ("Ogg", "Vorbis", 44100, 2, 3.0),
    "m4a aac 44.1 kHz stereo 4 s": ("M4A/MP4", "AAC", 44100, 2, 4.0),
    "webm opus 48 kHz mono 3 s": ("WebM/Matroska", "Opus", 48000, 1, 3.0),
}
# The containers SGLang decodes with PyAV: there the track is as long as FFmpeg's resampler
# makes it; elsewhere ceil(samples * rate / rate_in), as soundfile and torchaudio make it.
PYAV_CONTAINERS = {"M4A/MP4", "WebM/Matroska"}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return corpus.sweep()


def track_samples(track: bytes, rate: int) -> np.ndarray:
    """The track's samples, checked to be one mono FLAC stream in Matroska at ``rate``."""
    with av.open(io.BytesIO(track)) as out:
        assert out.format.name == "matroska,webm"
        assert len(out.streams) == len(out.streams.audio) == 1
        stream = out.streams.audio[0]
        context = stream.codec_context
        assert (context.name, context.sample_rate, context.channels) == ("flac", rate, 1)
        assert stream.layout.name == "mono"
        return np.concatenate([f.to_ndarray().reshape(-1) for f in out.decode(stream)])


def expected_length(data: bytes, container: str, rate: int) -> int:
    """The length SGLang's own loader gives the file at ``rate``, counted here without the
    worker's code: every sample decoded, then the rule of the loader SGLang uses for it."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    read = resampled = 0
    with av.open(io.BytesIO(data)) as source:
        stream = source.streams.audio[0]
        rate_in = stream.codec_context.sample_rate
        for frame in source.decode(stream):
            read += frame.samples
            resampled += sum(f.samples for f in resampler.resample(frame))
        resampled += sum(f.samples for f in resampler.resample(None))
    return resampled if container in PYAV_CONTAINERS else math.ceil(read * rate / rate_in)


def test_the_expected_facts_cover_the_whole_sweep(files):
    assert set(EXPECTED) == set(files)


@pytest.mark.parametrize("name", EXPECTED)
@pytest.mark.parametrize("rules", [WINDOWED, WHOLE], ids=["30 s window", "no window"])
def test_each_good_file_becomes_a_mono_track_as_long_as_sglangs_loader_makes_it(files, name,
                                                                                rules):
    container, codec, rate_in, channels, seconds = EXPECTED[name]
    track, facts = prepare_track(files[name], TrackJob(rules, max_seconds=900))
    assert (facts.container, facts.codec, facts.rate_in, facts.channels_in) == (
        container, codec, rate_in, channels)
    samples = track_samples(track, 16000)
    whole = expected_length(files[name], container, 16000)
    if rules.window_samples is not None and whole > rules.window_samples:
        assert samples.size == rules.window_samples == 480_000 and facts.cut
        assert facts.seconds_in == pytest.approx(30.0, abs=0.05)
    else:
        assert samples.size == whole and not facts.cut
        assert facts.seconds_in == pytest.approx(seconds, abs=0.05)
    assert facts.seconds_out == samples.size / 16000


def test_without_a_window_a_file_past_30_s_is_kept_whole(files):
    track, facts = prepare_track(files["wav 48 kHz stereo 40 s (past the window)"],
                                 TrackJob(WHOLE, max_seconds=900))
    assert track_samples(track, 16000).size == 640_000 and not facts.cut
    assert (facts.seconds_in, facts.seconds_out) == (40.0, 40.0)


def test_the_track_is_at_the_rules_rate(files):
    track, facts = prepare_track(files["wav 48 kHz stereo 5 s"],
                                 TrackJob(AudioRules(24000, None), max_seconds=900))
    assert track_samples(track, 24000).size == 120_000 and facts.seconds_out == 5.0


def test_stereo_is_averaged_to_mono_and_a_16_bit_file_at_the_rate_is_kept_exactly():
    data = corpus.wav(16000, 2.0, channels=2)
    track, _ = prepare_track(data, JOB)
    stereo = np.frombuffer(data[44:], "<i2").reshape(-1, 2).astype(np.float64)
    assert np.abs(track_samples(track, 16000) - stereo.mean(axis=1)).max() <= 0.5
    mono = corpus.wav(16000, 2.0)
    track, _ = prepare_track(mono, JOB)
    assert np.array_equal(track_samples(track, 16000), np.frombuffer(mono[44:], "<i2"))


def mp3_understating_its_length(seconds: float, claimed_frames: int) -> bytes:
    """An MP3 whose Info header (LAME's frame count) claims ``claimed_frames`` frames: FFmpeg
    declares the short length, and only decoding finds the rest."""
    data = bytearray(corpus.mp3(16000, seconds))
    info = data.find(b"Info")
    assert info > 0 and struct.unpack_from(">I", data, info + 4)[0] & 1, "no frame count"
    struct.pack_into(">I", data, info + 8, claimed_frames)
    return bytes(data)


def streaming_wav(data: bytes) -> bytes:
    """``data`` (a WAV) as a streaming writer leaves it: the RIFF and data sizes 0xFFFFFFFF."""
    return data[:4] + struct.pack("<I", 0xFFFFFFFF) + data[8:40] \
        + struct.pack("<I", 0xFFFFFFFF) + data[44:]


FLAC = corpus.encoded("flac", "flac", 16000, 4)
WAV = corpus.wav(16000, 5)
SHORT_LIMIT = 3  # MAX_AUDIO_SECONDS below the files' 5 s
BAD = {
    "truncated WAV": (corpus.truncated_wav(), JOB, "the audio is truncated: its header declares "
                      "4.00 s but the file holds 1.00 s"),
    "truncated FLAC": (FLAC[:len(FLAC) // 2], JOB, "the audio is truncated: its header declares "
                       "4.00 s"),
    "a WAV header claiming ten hours": (corpus.wav_claiming(36000), JOB, "the audio declares "
                                        "36000.0 s, over the 900 s limit (MAX_AUDIO_SECONDS)"),
    "a WAV header claiming a minute it lacks": (corpus.wav_claiming(60), JOB, "the audio is "
                                                "truncated: its header declares 60.00 s"),
    "a zero-length stream": (corpus.empty_wav(), JOB, "the audio has no samples"),
    "zero bytes": (b"", JOB, "the audio is empty (0 bytes)"),
    "an MP4 video": (corpus.mp4_video(), JOB, "the file has a video stream: send a video as a "
                     "video_url part"),
    "a PNG": (corpus.png(), JOB, "audio container 'png_pipe' is not accepted (accepted: WAV, "
              "MP3, FLAC, Ogg, M4A/MP4, WebM/Matroska)"),
    "random bytes": (bytes(range(256)) * 64, JOB, "the data cannot be opened as audio"),
    "a PDF": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", JOB, "cannot be opened as "
              "audio"),
    "an unsupported codec (IMA ADPCM)": (corpus.adpcm_wav(), JOB, "audio codec 'adpcm_ima_wav' "
                                         "is not accepted"),
    "format mp3, WAV bytes": (WAV, TrackJob(WINDOWED, 900, "mp3"), "input_audio.format is "
                              "'mp3' but the data is WAV"),
    "format wav, MP3 bytes": (corpus.mp3(), TrackJob(WINDOWED, 900, "wav"), "input_audio.format "
                              "is 'wav' but the data is MP3"),
    "format flac, Ogg bytes": (corpus.encoded("ogg", "libopus", 48000, 1),
                               TrackJob(WINDOWED, 900, "flac"),
                               "input_audio.format is 'flac' but the data is Ogg"),
    "format m4a, WebM bytes": (corpus.encoded("webm", "libopus", 48000, 1),
                               TrackJob(WINDOWED, 900, "m4a"),
                               "input_audio.format is 'm4a' but the data is WebM/Matroska"),
    "over MAX_AUDIO_SECONDS, declared": (WAV, TrackJob(WHOLE, SHORT_LIMIT), "the audio declares "
                                         "5.0 s, over the 3 s limit (MAX_AUDIO_SECONDS)"),
    "over MAX_AUDIO_SECONDS, a header that understates it": (
        mp3_understating_its_length(5, 10), TrackJob(WHOLE, SHORT_LIMIT),
        "the audio runs past the 3 s limit (MAX_AUDIO_SECONDS)"),
    "a streaming WAV over MAX_AUDIO_SECONDS": (streaming_wav(WAV), TrackJob(WHOLE, SHORT_LIMIT),
                                               "over the 3 s limit (MAX_AUDIO_SECONDS)"),
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_file_is_refused_saying_what_is_wrong(name):
    data, job, words = BAD[name]
    with pytest.raises(AudioError) as info:
        prepare_track(data, job)
    assert words in info.value.message
    assert info.value.param is None  # the pipeline names the part


def test_a_format_that_agrees_with_the_bytes_is_accepted():
    for data, format_ in ((WAV, "wav"), (corpus.mp3(), "mp3"), (FLAC, "flac"),
                          (corpus.encoded("ogg", "libopus", 48000, 1), "ogg"),
                          (corpus.encoded("ipod", "aac", 44100, 1), "m4a"),
                          (corpus.encoded("webm", "libopus", 48000, 1), "webm")):
        _, facts = prepare_track(data, TrackJob(WINDOWED, 900, format_))
        assert facts.seconds_out > 0.9, format_


def test_the_window_stops_decoding_before_the_length_limit_is_reached():
    # The model reads 2 s; the rest of the file (past MAX_AUDIO_SECONDS, unknown to its
    # header) is never decoded.
    track, facts = prepare_track(mp3_understating_its_length(5, 10),
                                 TrackJob(AudioRules(16000, 2.0), SHORT_LIMIT))
    assert facts.cut and track_samples(track, 16000).size == 32000


def test_a_streaming_writers_wav_is_accepted_and_its_length_counted_while_decoding():
    data = streaming_wav(WAV)
    assert wav_header_seconds(data) is None  # the header declares no length
    track, facts = prepare_track(data, JOB)
    assert (facts.container, facts.seconds_in, facts.cut) == ("WAV", 5.0, False)
    assert np.array_equal(track_samples(track, 16000), np.frombuffer(WAV[44:], "<i2"))
    long, _ = prepare_track(streaming_wav(corpus.wav(16000, 40)), JOB)
    assert track_samples(long, 16000).size == 480_000


def with_cover_art(container: str, codec: str, *, attached: bool = True) -> bytes:
    """2 s of mono audio with a 32x32 JPEG picture stream, marked as cover art
    (``attached_pic``) unless ``attached`` is False."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as target:
        audio = target.add_stream(codec, rate=16000, layout="mono")
        picture = target.add_stream("mjpeg", rate=1)
        picture.width = picture.height = 32
        picture.pix_fmt = "yuvj420p"
        if attached:
            picture.disposition = av.stream.Disposition.attached_pic
        image = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 120, np.uint8), format="rgb24")
        image = image.reformat(format="yuvj420p")
        image.pts = 0
        for packet in [*picture.encode(image), *picture.encode(None)]:
            target.mux(packet)
        samples = corpus.signal(16000, 2.0).astype(np.float32)
        size = audio.codec_context.frame_size or 1024
        for start in range(0, len(samples), size):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[start:start + size].T), format="fltp",
                layout="mono")
            frame.sample_rate, frame.pts = 16000, start
            for packet in audio.encode(frame):
                target.mux(packet)
        for packet in audio.encode(None):
            target.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(("container", "codec", "name"), [
    ("mp3", "libmp3lame", "MP3"), ("mp4", "aac", "M4A/MP4")])
def test_a_file_with_cover_art_is_accepted(container, codec, name):
    data = with_cover_art(container, codec)
    with av.open(io.BytesIO(data)) as source:
        (picture,) = source.streams.video
        assert picture.disposition & av.stream.Disposition.attached_pic
    track, facts = prepare_track(data, JOB)
    assert facts.container == name and facts.seconds_in == pytest.approx(2.0, abs=0.05)
    assert track_samples(track, 16000).size == pytest.approx(32000, abs=1024)


def test_a_picture_stream_that_is_not_cover_art_is_a_video():
    with pytest.raises(AudioError, match="the file has a video stream"):
        prepare_track(with_cover_art("mp4", "aac", attached=False), JOB)


def chunk(kind: bytes, payload: bytes, size: int | None = None) -> bytes:
    size = len(payload) if size is None else size
    return kind + struct.pack("<I", size) + payload + b"\0" * (len(payload) & 1)


def fmt(byte_rate: int = 32000) -> bytes:
    """A PCM ``fmt`` chunk: mono 16 kHz 16-bit, with ``byte_rate`` as given."""
    return chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 16000, byte_rate, 2, 16))


def riff(*chunks: bytes, form: bytes = b"WAVE") -> bytes:
    body = form + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("data", "seconds"), [
    (riff(fmt(), chunk(b"data", b"\0" * 64000)), 2.0),
    (riff(fmt(), chunk(b"data", b"", size=36000 * 32000)), 36000.0),  # a header, no samples
    (riff(fmt(), chunk(b"LIST", b"abc"), chunk(b"data", b"\0" * 16000)), 0.5),  # padded chunk
    (riff(chunk(b"JUNK", b"x" * 27), fmt(8000), chunk(b"fact", b"\0" * 4),
          chunk(b"data", b"\0" * 24000)), 3.0),
    (riff(fmt()), None),  # no data chunk
    (riff(fmt(), chunk(b"LIST", b"abc")), None),
    (riff(chunk(b"data", b"\0" * 64000), fmt()), None),  # data before fmt: no byte rate
    (riff(fmt(byte_rate=0), chunk(b"data", b"\0" * 64000)), None),
    (riff(fmt(), chunk(b"data", b"", size=0)), None),  # sizes streaming writers leave
    (riff(fmt(), chunk(b"data", b"", size=0xFFFFFFFF)), None),
    (riff(fmt(), chunk(b"data", b"\0" * 64000), form=b"AVI "), None),  # RIFF, not WAVE
    (b"RIFX" + riff(fmt(), chunk(b"data", b"\0" * 64000))[4:], None),  # not RIFF
    (b"RF64" + riff(fmt(), chunk(b"data", b"\0" * 64000))[4:], None),
    (corpus.mp3(), None),
    (b"", None),
    (b"RIFF", None),
])
def test_wav_header_seconds_reads_the_length_a_riff_header_declares(data, seconds):
    assert wav_header_seconds(data) == seconds


def test_wav_header_seconds_agrees_with_the_corpus_files():
    assert wav_header_seconds(corpus.wav(22050, 20)) == 20.0
    assert wav_header_seconds(corpus.wav(48000, 5, 2)) == 5.0
    assert wav_header_seconds(corpus.wav_claiming(36000)) == 36000.0
    assert wav_header_seconds(corpus.truncated_wav()) == 4.0


def test_the_same_audio_always_gives_the_same_track():
    """Byte for byte (no random Matroska segment UID), so SGLang's multimodal cache, keyed by
    the data, can hit on a repeated file."""
    data = corpus.wav(44100, 1.0, 2)
    job = TrackJob(AudioRules(16000, 30.0), 60)
    assert prepare_track(data, job)[0] == prepare_track(data, job)[0]
