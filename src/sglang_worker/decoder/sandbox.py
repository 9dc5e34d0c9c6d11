"""Run one media file through its decoder child and read the answer: the worker's side of the
isolation ``child`` sets up, for video and audio alike.

Contract:
- ``decode_isolated(module, job, data, limits, noun)`` starts ``python -m <module>`` (a module
  whose main is ``child.serve``), sends it the job (a JSON-able dict) and the bytes, and
  returns the child's facts (a dict) and its result's data URL. The event loop only writes and
  reads pipes; all decoding, encoding and base64 work happens in the child.
- Every way the child can fail is the medium's ``MediaPartError`` (``errors.media_error``) for
  this one request, and the worker goes on serving: a refusal comes back as it was worded; a
  crash (a signal, such as a segfault in a codec, or the kernel's answer to the memory cap) or
  a missing answer says the decoder crashed; a child still running at ``limits.timeout_s`` is
  killed (the message names ``<NOUN>_DECODE_TIMEOUT_S``). A cancelled request kills its child
  too.
- ``workers(configured)``: how many children of a medium may run at once (0: half the cores).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

from sglang_worker.decoder.child import HEADER
from sglang_worker.errors import media_error


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    timeout_s: float
    max_memory_mb: int


def workers(configured: int) -> int:
    """The configured count, or for 0 half the CPU cores (at least 1)."""
    return configured or max(1, (os.cpu_count() or 2) // 2)


async def decode_isolated(module: str, job: dict[str, Any], data: bytes,
                          limits: SandboxLimits, noun: str) -> tuple[dict[str, Any], str]:
    """The child's facts and result URL for ``data`` (see the module contract)."""
    request = {**job, "max_memory_mb": limits.max_memory_mb,
               "cpu_seconds": math.ceil(limits.timeout_s) + 1}
    header = json.dumps(request).encode()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(limits.timeout_s):
            out = await _exchange(child, HEADER.pack(len(header)) + header, data)
    except TimeoutError:
        raise media_error(noun, f"decoding the {noun} took longer than {limits.timeout_s:g} s "
                          f"({noun.upper()}_DECODE_TIMEOUT_S)") from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return read_answer(out, child.returncode, noun)


async def _exchange(child: asyncio.subprocess.Process, header: bytes, data: bytes) -> bytes:
    """Write the request (the file without a copy joined to its header), read the answer."""
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


def read_answer(out: bytes, returncode: int | None, noun: str) -> tuple[dict[str, Any], str]:
    """The facts and result URL in a child's output, or its failure as a ``MediaPartError``."""
    if len(out) < HEADER.size:
        raise media_error(noun, f"the {noun} decoder crashed on this file "
                          f"({_death(returncode)}); the file is damaged or hostile")
    (length,) = HEADER.unpack_from(out)
    header = json.loads(out[HEADER.size:HEADER.size + length])
    if "error" in header:
        raise media_error(noun, header["error"])
    return header["facts"], out[HEADER.size + length:].decode("ascii")


def _death(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
