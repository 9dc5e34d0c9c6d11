"""Audio files made on the spot, for the tests: good files of many formats, rates and lengths,
and the bad files the worker must refuse. Deterministic (a fixed seed) and quick to make.

The signal is speech-like rather than a pure tone: a few drifting partials under noise, so that
FLAC and the lossy codecs see something near what a voice gives them, and so a sample count
or resampling mistake shows in the features.
"""

from __future__ import annotations

import base64
import io
import struct
import wave

import av
import numpy as np
from PIL import Image

from tests.support import video_corpus

SEED = 20261202


def signal(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    """Float samples in [-1, 1], shape (frames, channels)."""
    rng = np.random.default_rng(SEED)
    n = round(rate * seconds)
    t = np.arange(n) / rate
    voice = sum(0.2 / k * np.sin(2 * np.pi * (180 * k + 30 * np.sin(t * 1.3 * k)) * t)
                for k in range(1, 5))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2
    mono = voice * envelope + 0.02 * rng.standard_normal(n)
    return np.stack([mono * (0.9 + 0.1 * c) for c in range(channels)], axis=1).clip(-1, 1)


def wav(rate: int = 16000, seconds: float = 2.0, channels: int = 1) -> bytes:
    """A 16-bit PCM WAV."""
    samples = (signal(rate, seconds, channels) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(channels)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(samples.tobytes())
    return out.getvalue()


def encoded(container: str, codec: str, rate: int = 16000, seconds: float = 2.0,
            channels: int = 1) -> bytes:
    """The signal encoded with PyAV (``container`` an FFmpeg muxer: mp3, flac, ogg, ipod,
    webm, wav ...)."""
    layout = "mono" if channels == 1 else "stereo"
    samples = signal(rate, seconds, channels).astype(np.float32)
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as target:
        stream = target.add_stream(codec, rate=rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        size = stream.codec_context.frame_size or 1024
        for start in range(0, len(samples), size):
            chunk = samples[start:start + size]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def mp3(rate: int = 16000, seconds: float = 2.0, channels: int = 1) -> bytes:
    return encoded("mp3", "libmp3lame", rate, seconds, channels)


def sweep() -> dict[str, bytes]:
    """Good files: every accepted format, common rates and layouts, under and over the 30 s
    window of Qwen2-Audio."""
    return {
        "wav 16 kHz mono 5 s": wav(16000, 5),
        "wav 48 kHz stereo 5 s": wav(48000, 5, 2),
        "wav 44.1 kHz stereo 3.3 s": wav(44100, 3.3, 2),
        "wav 22.05 kHz mono 20 s": wav(22050, 20),
        "wav 8 kHz mono 7.77 s": wav(8000, 7.77),
        "wav 48 kHz stereo 40 s (past the window)": wav(48000, 40, 2),
        "flac 16 kHz mono 4 s": encoded("flac", "flac", 16000, 4),
        "mp3 44.1 kHz stereo 6 s": mp3(44100, 6, 2),
        "ogg opus 48 kHz mono 3 s": encoded("ogg", "libopus", 48000, 3),
        "ogg vorbis 44.1 kHz stereo 3 s": encoded("ogg", "vorbis", 44100, 3, 2),
        "m4a aac 44.1 kHz stereo 4 s": encoded("ipod", "aac", 44100, 4, 2),
        "webm opus 48 kHz mono 3 s": encoded("webm", "libopus", 48000, 3),
    }


def data_url(data: bytes, mime: str = "audio/wav") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wav_claiming(seconds: float, rate: int = 16000) -> bytes:
    """A WAV whose header says ``seconds`` long but which holds 1 s: its data chunk size lies."""
    real = wav(rate, 1.0)
    claimed = round(seconds * rate) * 2
    return real[:4] + struct.pack("<I", 36 + claimed) + real[8:40] + struct.pack("<I", claimed) \
        + real[44:]


def truncated_wav() -> bytes:
    """A 4 s WAV cut off after 1 s: its header still declares 4 s."""
    whole = wav(16000, 4.0)
    return whole[:44 + 16000 * 2]


def empty_wav() -> bytes:
    """A well-formed WAV with no samples."""
    return wav(16000, 0.0)


def adpcm_wav() -> bytes:
    """A WAV holding IMA ADPCM, a codec not on the list."""
    return encoded("wav", "adpcm_ima_wav", 16000, 1.0)


def mp4_video() -> bytes:
    return video_corpus.make_clip(160, 120, 1, 10)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def input_audio(data: bytes, format: str = "wav") -> dict:
    """OpenAI's inline audio part for ``data``."""
    return {"type": "input_audio", "input_audio": {"data": b64(data), "format": format}}


def messages(*parts: dict) -> list[dict]:
    """One user message: a question, then ``parts``."""
    return [{"role": "user", "content": [{"type": "text", "text": "What is said?"}, *parts]}]


# What the tests of both faces send: 4 s of 48 kHz stereo WAV, 100 audio tokens (25 a second).
FACE_TOKENS = 100


def face_part() -> dict:
    return input_audio(wav(48000, 4, 2))
