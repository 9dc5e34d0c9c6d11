"""Turn one untrusted video file into the small clip SGLang should see: probe, check, sample,
resize and encode. Runs in the decoder process (``decoder_process``), never in the worker's.

Contract:
- ``prepare_clip(data, job)`` returns the clip's bytes and its ``ClipFacts``, or raises
  ``VideoError`` with a message that says what is wrong and which limit, if any, was passed.
- Allowed: containers MP4/MOV (FFmpeg's ``mov,mp4,...`` demuxer) and WebM/Matroska; codecs
  H.264, HEVC, VP8, VP9 and AV1, the first video stream only. Anything else (a PNG, a PDF, an
  audio-only file, MPEG-4 Part 2, ProRes) is refused before a frame is decoded. FFmpeg opens a
  file by sniffing its bytes, never by the name or MIME type the caller gave.
- Order of work, so that a hostile file is refused as early as possible:
  1. open the container (FFmpeg reads the header) and check the allowlist, the declared frame
     size (``max_frame_pixels``, and at least ``MIN_SIDE`` pixels a side) and the declared
     duration (``max_seconds``);
  2. read every packet of the video stream without decoding it: the frame count and the last
     timestamp, which stops with an error at the first packet past ``max_seconds``, whatever
     the header claimed;
  3. ``sampling.plan`` on that count and the stream's average frame rate (FFmpeg's
     ``avg_frame_rate``, as SGLang's decord reader reports it; the packet count and the
     duration when the header has none);
  4. decode frame by frame. A packet whose frame is not kept is decoded only if other frames
     need it (FFmpeg's ``skip_frame`` set to non-reference for it): frames are told apart by
     their timestamps, the kept ones being the sampled positions of the packets' timestamps in
     presentation order, as decord numbers them. Every decoded frame is checked against
     ``max_frame_pixels`` and ``max_seconds`` again; a kept frame is turned upright (the
     stream's display matrix, as EXIF is for images), resized with Pillow's antialiased
     bilinear filter (what torchvision's resize in SGLang does) and encoded at once, so no more
     than one frame is held in memory; decoding stops after the last kept frame.
- The clip: H.264 (``yuv420p``, x264's ``ultrafast``, CRF ``CLIP_CRF``, no B-frames) in MP4,
  at ``rules.fps`` frames a second, so SGLang's own sampler keeps every frame (``sampling``).
  H.264 in MP4 is the one format every decoder SGLang uses reads, torchcodec on the GPU (NVDEC)
  included.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
from PIL import Image

from sglang_worker.decoder.probe import declared_seconds, reason
from sglang_worker.errors import VideoError
from sglang_worker.video.sampling import SamplePlan, Size, VideoRules, plan

CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "WebM/Matroska"}
CODECS = {"h264": "H.264", "hevc": "HEVC", "vp8": "VP8", "vp9": "VP9", "av1": "AV1",
          "libdav1d": "AV1"}
MIN_SIDE = 8
CLIP_CRF = "14"  # near-transparent at these sizes; ultrafast: encoding is most of the cost
_ROTATIONS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
              270: Image.Transpose.ROTATE_270}


@dataclass(frozen=True, slots=True)
class ClipJob:
    rules: VideoRules
    max_seconds: float
    max_frame_pixels: int
    fps: float | None = None  # the client's wish; can only lower rules.fps
    max_frames: int | None = None
    threads: int = 0  # FFmpeg decoding threads; 0: FFmpeg picks


@dataclass(frozen=True, slots=True)
class ClipFacts:
    container: str
    codec: str
    size_in: Size  # (width, height) as stored, before rotation
    seconds: float
    frames_in: int
    frames_out: int
    size_out: Size
    rotation: int


def prepare_clip(data: bytes, job: ClipJob) -> tuple[bytes, ClipFacts]:
    """The clip SGLang gets for ``data`` (see the module contract)."""
    try:
        source = av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        raise VideoError(f"the data cannot be opened as a video: not a video file, or a "
                         f"damaged or truncated one (FFmpeg: {reason(exc)})") from None
    with source:
        stream = _checked_stream(source, job)
        packets, seconds = _packets(source, stream, job)
        rate = stream.average_rate
        avg_fps = float(rate) if rate else (len(packets) / seconds if seconds else 0.0)
        width, height = stream.codec_context.width, stream.codec_context.height
        sampling = plan(len(packets), avg_fps, (width, height), job.rules, job.fps,
                        job.max_frames)
        clip, size_out, rotation = _decode_and_encode(stream, packets, sampling, job)
    facts = ClipFacts(CONTAINERS[source.format.name], CODECS[stream.codec_context.name],
                      (width, height), seconds, len(packets), len(sampling.indices), size_out,
                      rotation)
    return clip, facts


def _checked_stream(source: av.container.InputContainer, job: ClipJob) -> av.VideoStream:
    name = source.format.name
    if name not in CONTAINERS:
        raise VideoError(f"video container '{name}' is not accepted (accepted: "
                         f"{', '.join(sorted(set(CONTAINERS.values())))})")
    if not source.streams.video:
        raise VideoError("the file has no video stream (audio only?)")
    stream = source.streams.video[0]
    codec = stream.codec_context.name
    if codec not in CODECS:
        raise VideoError(f"video codec '{codec}' is not accepted (accepted: "
                         f"{', '.join(sorted(set(CODECS.values())))})")
    width, height = stream.codec_context.width, stream.codec_context.height
    _check_frame_size(width, height, job, "declares")
    declared = declared_seconds(source, stream)
    if declared > job.max_seconds:
        raise VideoError(f"the video declares {declared:.1f} s, over the {job.max_seconds:g} s "
                         "limit (MAX_VIDEO_SECONDS)")
    stream.codec_context.thread_type = "AUTO"
    stream.codec_context.thread_count = job.threads
    return stream


def _check_frame_size(width: int, height: int, job: ClipJob, verb: str) -> None:
    if min(width, height) < MIN_SIDE:
        raise VideoError(f"the video {verb} frames of {width}x{height}; each side must be at "
                         f"least {MIN_SIDE} pixels")
    if width * height > job.max_frame_pixels:
        raise VideoError(f"the video {verb} frames of {width}x{height} ({width * height} "
                         f"pixels), over the {job.max_frame_pixels} pixel limit "
                         "(MAX_VIDEO_FRAME_PIXELS)")


def _packets(source: av.container.InputContainer, stream: av.VideoStream,
             job: ClipJob) -> tuple[list[av.Packet], float]:
    """Every packet of the stream, undecoded, and the span of their timestamps in seconds."""
    packets: list[av.Packet] = []
    first = last = None
    base = stream.time_base or Fraction(1, 1)
    try:
        for packet in source.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream marker
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None:
                first = stamp if first is None else min(first, stamp)
                last = stamp if last is None else max(last, stamp)
                if float((last - first) * base) > job.max_seconds:
                    raise VideoError(f"the video runs past the {job.max_seconds:g} s limit "
                                     "(MAX_VIDEO_SECONDS)")
            packets.append(packet)
    except av.FFmpegError as exc:
        raise VideoError(f"the video file is damaged: {reason(exc)}") from None
    if not packets:
        raise VideoError("the video has no frames")
    seconds = float((last - first) * base) if first is not None else 0.0
    rate = stream.average_rate
    if rate:
        seconds += 1 / float(rate)  # the last frame lasts one frame
    return packets, seconds


def _wanted_stamps(packets: list[av.Packet], sampling: SamplePlan) -> set[int] | None:
    """The timestamps of the kept frames, or None when some packet has none (then frames are
    told apart by their order, and none is skipped)."""
    stamps = [packet.pts for packet in packets]
    if any(stamp is None for stamp in stamps) or len(set(stamps)) != len(stamps):
        return None
    order = sorted(stamps)
    return {order[i] for i in sampling.indices}


def _decode_and_encode(stream: av.VideoStream, packets: list[av.Packet], sampling: SamplePlan,
                       job: ClipJob) -> tuple[bytes, Size, int]:
    wanted = _wanted_stamps(packets, sampling)
    keep = set(sampling.indices)
    remaining = len(sampling.indices)
    out = io.BytesIO()
    writer = _ClipWriter(out, job.rules.fps)
    index = 0
    kept: list[int] = []
    rotation = 0
    base = stream.time_base or Fraction(1, 1)
    context = stream.codec_context
    try:
        for packet in [*packets, None]:
            if wanted is not None and packet is not None:
                context.skip_frame = "DEFAULT" if packet.pts in wanted else "NONREF"
            for frame in context.decode(packet):
                _check_frame_size(frame.width, frame.height, job, "has")
                if frame.pts is not None and float(frame.pts * base) > job.max_seconds + 1:
                    raise VideoError(f"the video runs past the {job.max_seconds:g} s limit "
                                     "(MAX_VIDEO_SECONDS)")
                if (frame.pts in wanted) if wanted is not None else (index in keep):
                    rotation = _rotation(frame)
                    writer.add(_upright(frame, rotation), sampling.size, rotation)
                    kept.append(index)
                    remaining -= 1
                index += 1
                if remaining == 0:
                    break
            if remaining == 0:
                break
    except av.FFmpegError as exc:
        raise VideoError(f"the video could not be decoded: {reason(exc)}") from None
    if not kept:
        raise VideoError("no frame of the video could be decoded")
    while len(kept) < len(sampling.indices):
        # Fewer frames decoded than packets counted (a damaged tail): the last one is held, as
        # a player shows it; the frame count, and so the video tokens, stay those planned.
        writer.repeat_last()
        kept.append(kept[-1])
    writer.close()
    return out.getvalue(), writer.size, rotation


def _rotation(frame: av.VideoFrame) -> int:
    """The clockwise turn that makes the frame upright: 0, 90, 180 or 270."""
    return round(-frame.rotation / 90) % 4 * 90 if frame.rotation else 0


def _upright(frame: av.VideoFrame, rotation: int) -> Image.Image:
    image = frame.to_image()
    # Pillow's ROTATE_n turns counter-clockwise; a clockwise turn of r is ROTATE_(360 - r).
    return image.transpose(_ROTATIONS[(360 - rotation) % 360]) if rotation else image


class _ClipWriter:
    """The output clip: frames resized and encoded one at a time."""

    def __init__(self, out: io.BytesIO, fps: float) -> None:
        self._container = av.open(out, mode="w", format="mp4")
        self._rate = Fraction(fps).limit_denominator(1001)
        self._stream: av.VideoStream | None = None
        self._last: av.VideoFrame | None = None
        self._count = 0
        self.size: Size = (0, 0)

    def add(self, image: Image.Image, size: Size, rotation: int) -> None:
        # The planned size is for the frame as stored; a quarter turn swaps its sides.
        width, height = (size[1], size[0]) if rotation in (90, 270) else size
        if self._stream is None:
            self._stream = self._container.add_stream("libx264", rate=self._rate)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": CLIP_CRF, "preset": "ultrafast", "bf": "0"}
            self.size = (width, height)
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        self._last = av.VideoFrame.from_image(image)
        self._encode(self._last)

    def repeat_last(self) -> None:
        assert self._last is not None
        self._encode(self._last)

    def _encode(self, frame: av.VideoFrame) -> None:
        assert self._stream is not None
        frame.pts = self._count
        frame.time_base = 1 / self._rate
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        assert self._stream is not None
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
