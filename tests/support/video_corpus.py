"""Video clips made on the spot with PyAV, for the tests: good clips of many shapes, and the bad
files the worker must refuse. Deterministic, small and quick to make (the largest takes well
under a second)."""

from __future__ import annotations

import base64
import io
import struct

import av
import numpy as np


def frame_pixels(width: int, height: int, i: int) -> np.ndarray:
    """A moving picture with smooth gradients and soft edges, like camera footage."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = i / 10
    red = 127 + 120 * np.sin(x / max(width, 1) * 6.0 + t)
    green = 127 + 120 * np.cos(y / max(height, 1) * 5.0 - t)
    blue = 127 + 120 * np.sin((x + y) / max(width + height, 1) * 9.0 + 2 * t)
    return np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)


def make_clip(width: int, height: int, seconds: float, fps: int, *, codec: str = "libx264",
              container: str = "mp4", pix_fmt: str = "yuv420p", rotation: int = 0,
              variable_rate: bool = False) -> bytes:
    """An encoded clip; ``rotation`` sets the display matrix (a phone held upright), and
    ``variable_rate`` makes every third frame last twice as long. An MP4 is written as a
    streaming muxer writes it, its index (``moov``) after the frames."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as target:
        stream = target.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        pts = 0
        for i in range(max(1, round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(frame_pixels(width, height, i), format="rgb24")
            frame.pts = pts
            pts += 2 if variable_rate and i % 3 == 2 else 1
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def audio_only_mp4() -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as target:
        stream = target.add_stream("aac", rate=16000)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def with_frames_spread_over(data: bytes, seconds: int) -> bytes:
    """``data`` (an MP4) with its sample table (``stts``) claiming that its frames span
    ``seconds``: each frame's duration is stretched, as a forged file would do it."""
    patched = bytearray(data)
    mdhd = patched.find(b"mdhd")
    assert patched[mdhd + 4] == 0, "a version-1 header; make the clip shorter"
    (timescale,) = struct.unpack_from(">I", patched, mdhd + 16)
    stts = patched.find(b"stts")
    (entries,) = struct.unpack_from(">I", patched, stts + 8)
    frames = sum(struct.unpack_from(">I", patched, stts + 12 + 8 * i)[0] for i in range(entries))
    for i in range(entries):
        struct.pack_into(">I", patched, stts + 16 + 8 * i, timescale * seconds // frames)
    # The headers agree, so FFmpeg's edit list does not cut the stretched frames off.
    struct.pack_into(">I", patched, mdhd + 20, timescale * seconds)
    mvhd = patched.find(b"mvhd")
    (movie_scale,) = struct.unpack_from(">I", patched, mvhd + 16)
    struct.pack_into(">I", patched, mvhd + 20, movie_scale * seconds)
    struct.pack_into(">I", patched, patched.find(b"tkhd") + 24, movie_scale * seconds)
    elst = patched.find(b"elst")
    if elst >= 0:
        struct.pack_into(">I", patched, elst + 12, movie_scale * seconds)
    return bytes(patched)


def data_url(data: bytes, mime: str = "video/mp4") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# Good clips, each (name, bytes factory): the sweep the token and PSNR tests walk.
def sweep() -> dict[str, bytes]:
    return {
        "landscape 640x360 5 s": make_clip(640, 360, 5, 30),
        "portrait 360x640 3.3 s": make_clip(360, 640, 3.3, 24),
        "334x198, no multiple of 28": make_clip(334, 198, 2.5, 25),
        "long 20 s": make_clip(160, 96, 20, 10),
        "variable frame rate": make_clip(320, 240, 3, 30, variable_rate=True),
        "rotated 90": make_clip(320, 180, 2, 30, rotation=90),
        "webm vp9": make_clip(320, 240, 3, 24, codec="libvpx-vp9", container="webm"),
        "1080p 2 s": make_clip(1920, 1080, 2, 30),
        "tiny 64x48": make_clip(64, 48, 2, 10),
    }
