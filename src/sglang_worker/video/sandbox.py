"""Run one video through the decoder process and read its answer: the worker's side of the
isolation ``decoder_process`` sets up.

Contract:
- ``decode_isolated(data, job, limits)`` starts ``python -m sglang_worker.video.decoder_process``,
  sends it the job and the bytes, and returns the clip's ``data:video/mp4;base64,`` URL and its
  ``ClipFacts``. The event loop only writes and reads pipes; all decoding, encoding and base64
  work happens in the child.
- Every way the child can fail is a ``VideoError`` for this one request, and the worker goes on
  serving: a refusal from ``clip`` comes back as it was worded; a crash (a signal, such as a
  segfault in a codec, or the kernel's answer to the memory cap) or a missing answer says the
  decoder crashed; a child still running at ``VIDEO_DECODE_TIMEOUT_S`` is killed. A cancelled
  request kills its child too.
- At most ``VIDEO_WORKERS`` children run at once (``DecoderSlots``); the rest wait their turn.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import struct
import sys
from dataclasses import asdict, dataclass

from sglang_worker.errors import VideoError
from sglang_worker.video.clip import ClipFacts, ClipJob

_HEADER = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    timeout_s: float
    max_memory_mb: int


def video_workers(configured: int) -> int:
    """VIDEO_WORKERS, or for 0 half the CPU cores (at least 1)."""
    return configured or max(1, (os.cpu_count() or 2) // 2)


async def decode_isolated(data: bytes, job: ClipJob,
                          limits: SandboxLimits) -> tuple[str, ClipFacts]:
    """The clip's data URL for ``data``, made in a child process (see the module contract)."""
    request = {**asdict(job), "max_memory_mb": limits.max_memory_mb,
               "cpu_seconds": math.ceil(limits.timeout_s) + 1}
    header = json.dumps(request).encode()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sglang_worker.video.decoder_process",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(limits.timeout_s):
            out = await _exchange(child, _HEADER.pack(len(header)) + header, data)
    except TimeoutError:
        raise VideoError(f"decoding the video took longer than {limits.timeout_s:g} s "
                         "(VIDEO_DECODE_TIMEOUT_S)") from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return _read_answer(out, child.returncode)


async def _exchange(child: asyncio.subprocess.Process, header: bytes, data: bytes) -> bytes:
    """Write the request (the video without a copy joined to its header), read the answer."""
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(header)
        child.stdin.write(data)
        await child.stdin.drain()
        child.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child died early; its exit status tells why
    out = await child.stdout.read()
    await child.wait()
    return out


def _read_answer(out: bytes, returncode: int | None) -> tuple[str, ClipFacts]:
    if len(out) < _HEADER.size:
        raise VideoError(f"the video decoder crashed on this file ({_death(returncode)}); "
                         "the file is damaged or hostile")
    (length,) = _HEADER.unpack_from(out)
    header = json.loads(out[_HEADER.size:_HEADER.size + length])
    if "error" in header:
        raise VideoError(header["error"])
    facts = header["facts"]
    facts = ClipFacts(**{**facts, **{key: tuple(facts[key]) for key in ("size_in", "size_out")}})
    return out[_HEADER.size + length:].decode("ascii"), facts


def _death(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
