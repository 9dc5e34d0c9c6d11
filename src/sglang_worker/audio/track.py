"""Turn one untrusted audio file into the track SGLang should see: probe, check, decode,
downmix, resample, cut and encode. Runs in the decoder process (``decoder_process``), never in
the worker's.

Contract:
- ``prepare_track(data, job)`` returns the track's bytes and its ``TrackFacts``, or raises
  ``AudioError`` with a message that says what is wrong and which limit, if any, was passed.
- Allowed (``CONTAINERS``, ``CODECS``): WAV, MP3, FLAC, Ogg, M4A/MP4 and WebM/Matroska files
  holding PCM (8 to 64 bit, either byte order), MP3, FLAC, Vorbis, Opus or AAC; the first audio
  stream only. FFmpeg opens a file by sniffing its bytes, never by the name or MIME type the
  caller gave; when the caller names a format (``input_audio.format``), the bytes must be that
  format. A file with a video stream (other than cover art) is a video, and is refused here.
- Order of work, so that a hostile file is refused as early as possible:
  1. open the container (FFmpeg reads the header) and check the allowlists, the format, the
     sample rate and channel count, and the declared duration (``max_seconds``). A WAV's
     duration is read from its own header too (``wav_header_seconds``), because FFmpeg clamps
     a ``data`` chunk that claims more than the file holds to the file's size;
  2. decode packet by packet, downmixing to mono and resampling to ``rules.rate`` (FFmpeg's
     resampler, as SGLang's own PyAV path uses) as it goes, and counting the samples read:
     past ``max_seconds`` the file is refused whatever its header said; once the model's
     window (``rules.window_s``) is full, decoding stops there, because the model reads no
     further;
  3. a WAV or FLAC file that ends well before the length its header declares is refused as
     truncated (their headers state the length exactly; other formats only estimate it);
  4. the track is as long as SGLang's own loader would make it, so the audio tokens match
     the direct path's: for the files SGLang decodes with soundfile and torchaudio (WAV, MP3,
     FLAC, Ogg), ``ceil(samples * rate / rate_in)`` samples; for those it decodes with PyAV
     (MP4/M4A, WebM/Matroska), the resampler's own count, as there.
- The track: 16-bit mono FLAC (lossless) in Matroska at ``rules.rate``. Matroska is one of the
  containers SGLang's ``load_audio`` always hands to PyAV, on the CPU and the GPU image alike,
  and at that rate its resampler has nothing to do.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import av
import numpy as np

from sglang_worker.audio.rules import AudioRules
from sglang_worker.decoder.probe import declared_seconds, reason
from sglang_worker.errors import AudioError

CONTAINERS = {"wav": "WAV", "mp3": "MP3", "flac": "FLAC", "ogg": "Ogg",
              "mov,mp4,m4a,3gp,3g2,mj2": "M4A/MP4", "matroska,webm": "WebM/Matroska"}
# input_audio.format -> the FFmpeg demuxer its bytes must open with.
FORMAT_CONTAINERS = {"wav": "wav", "mp3": "mp3", "flac": "flac", "ogg": "ogg",
                     "m4a": "mov,mp4,m4a,3gp,3g2,mj2", "webm": "matroska,webm"}
# The containers SGLang's load_audio decodes with PyAV (audio_from_video.is_audio_container).
SGLANG_PYAV = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"})
_PCM = [f"pcm_{kind}{bits}{order}" for kind, bits in (("s", 16), ("s", 24), ("s", 32),
                                                      ("f", 32), ("f", 64))
        for order in ("le", "be")]
CODECS = {**dict.fromkeys(["pcm_u8", "pcm_s8", *_PCM], "PCM"), "mp3float": "MP3", "mp3": "MP3",
          "flac": "FLAC", "vorbis": "Vorbis", "opus": "Opus", "libopus": "Opus", "aac": "AAC"}
MAX_RATE = 384_000
MAX_CHANNELS = 32
TRUNCATION_SLACK_S = 0.05  # a WAV or FLAC may end this much short of its header's length
MAX_BAD_PACKETS = 0.01  # the share of undecodable packets tolerated (SGLang skips them too)
TRACK_FORMAT = "matroska"
_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class TrackJob:
    rules: AudioRules
    max_seconds: float
    format: str | None = None  # the caller's input_audio.format


@dataclass(frozen=True, slots=True)
class TrackFacts:
    container: str
    codec: str
    rate_in: int
    channels_in: int
    seconds_in: float  # decoded, up to the window
    seconds_out: float
    cut: bool  # stopped at the model's window


def prepare_track(data: bytes, job: TrackJob) -> tuple[bytes, TrackFacts]:
    """The track SGLang gets for ``data`` (see the module contract)."""
    if not data:
        raise AudioError("the audio is empty (0 bytes)")
    try:
        source = av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        raise AudioError(f"the data cannot be opened as audio: not an audio file, or a damaged "
                         f"or truncated one (FFmpeg: {reason(exc)})") from None
    with source:
        stream, declared = _checked_stream(source, job, data)
        rate_in = stream.codec_context.sample_rate
        samples, read, cut = _decode(source, stream, job)
    name = source.format.name
    seconds_in = read / rate_in
    if not cut and name in ("wav", "flac") and declared - seconds_in > TRUNCATION_SLACK_S:
        raise AudioError(f"the audio is truncated: its header declares {declared:.2f} s but the "
                         f"file holds {seconds_in:.2f} s")
    if not cut and name not in SGLANG_PYAV:
        samples = _fit(samples, math.ceil(read * job.rules.rate / rate_in))
    if samples.size == 0:
        raise AudioError("the audio has no samples")
    facts = TrackFacts(CONTAINERS[name], CODECS[stream.codec_context.name], rate_in,
                       stream.codec_context.channels, seconds_in,
                       samples.size / job.rules.rate, cut)
    return _encode(samples, job.rules.rate), facts


def _checked_stream(source: av.container.InputContainer, job: TrackJob,
                    data: bytes) -> tuple[av.AudioStream, float]:
    """The first audio stream, checked, and the length it declares."""
    name = source.format.name
    if job.format is not None and FORMAT_CONTAINERS[job.format] != name:
        found = CONTAINERS.get(name, f"'{name}'")
        raise AudioError(f"input_audio.format is '{job.format}' but the data is {found}")
    if name not in CONTAINERS:
        raise AudioError(f"audio container '{name}' is not accepted (accepted: "
                         f"{', '.join(CONTAINERS.values())})")
    pictures = av.stream.Disposition.attached_pic
    if any(not stream.disposition & pictures for stream in source.streams.video):
        raise AudioError("the file has a video stream: send a video as a video_url part")
    if not source.streams.audio:
        raise AudioError("the file has no audio stream")
    stream = source.streams.audio[0]
    context = stream.codec_context
    if context.name not in CODECS:
        raise AudioError(f"audio codec '{context.name}' is not accepted (accepted: "
                         f"{', '.join(sorted(set(CODECS.values())))})")
    if not 0 < context.sample_rate <= MAX_RATE:
        raise AudioError(f"the audio declares {context.sample_rate} samples a second; accepted: "
                         f"1 to {MAX_RATE}")
    if not 0 < context.channels <= MAX_CHANNELS:
        raise AudioError(f"the audio declares {context.channels} channels; accepted: 1 to "
                         f"{MAX_CHANNELS}")
    declared = _declared_seconds(source, stream, data)
    if declared > job.max_seconds:
        raise AudioError(f"the audio declares {declared:.1f} s, over the {job.max_seconds:g} s "
                         "limit (MAX_AUDIO_SECONDS)")
    return stream, declared


def _declared_seconds(source: av.container.InputContainer, stream: av.AudioStream,
                      data: bytes) -> float:
    seconds = declared_seconds(source, stream)
    if source.format.name == "wav":
        seconds = max(seconds, wav_header_seconds(data) or 0.0)
    return seconds


def wav_header_seconds(data: bytes) -> float | None:
    """The length a RIFF WAV's header declares (its ``data`` chunk's size over the ``fmt``
    chunk's byte rate), or None when it declares none: not RIFF, no byte rate, or the 0 or
    0xFFFFFFFF size that streaming writers put there."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    byte_rate = None
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk == b"fmt " and size >= 16 and offset + 20 <= len(data):
            byte_rate = struct.unpack_from("<I", data, offset + 16)[0]
        elif chunk == b"data":
            if not byte_rate or size in (0, 0xFFFFFFFF):
                return None
            return size / byte_rate
        offset += 8 + size + (size & 1)
    return None


def _decode(source: av.container.InputContainer, stream: av.AudioStream,
            job: TrackJob) -> tuple[np.ndarray, int, bool]:
    """The mono samples at ``rules.rate``, how many samples were read at the source's rate,
    and whether decoding stopped at the model's window."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=job.rules.rate)
    window = job.rules.window_samples
    limit = job.max_seconds * stream.codec_context.sample_rate
    chunks: list[np.ndarray] = []
    out = read = packets = bad = 0
    try:
        for packet in source.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream marker
            packets += 1
            try:
                frames = packet.decode()
            except av.FFmpegError:
                bad += 1
                continue
            for frame in frames:
                read += frame.samples
                if read > limit:
                    raise AudioError(f"the audio runs past the {job.max_seconds:g} s limit "
                                     "(MAX_AUDIO_SECONDS)")
                for mono in resampler.resample(frame):
                    chunks.append(mono.to_ndarray().reshape(-1))
                    out += chunks[-1].size
            if window is not None and out >= window:
                return np.concatenate(chunks)[:window], read, True
        for mono in resampler.resample(None):
            chunks.append(mono.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise AudioError(f"the audio file is damaged: {reason(exc)}") from None
    if packets == 0 or read == 0:
        raise AudioError("the audio has no samples")
    if bad > max(1, packets * MAX_BAD_PACKETS):
        raise AudioError(f"the audio file is damaged: {bad} of its {packets} packets cannot be "
                         "decoded")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    if window is not None and samples.size >= window:
        return samples[:window], read, True
    return samples, read, False


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    if samples.size >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - samples.size, samples.dtype)])


def _encode(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    # bitexact: no random segment UID and no muxer version, so the same audio always gives the
    # same bytes (and SGLang's multimodal cache, keyed by the data, can hit).
    with av.open(out, mode="w", format=TRACK_FORMAT,
                 container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        stream.format = "s16"
        for start in range(0, samples.size, _CHUNK):
            chunk = np.ascontiguousarray(samples[start:start + _CHUNK]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
