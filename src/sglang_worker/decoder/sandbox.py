"""Run one media file through its decoder child and read the answer: the worker's side of the
isolation ``child`` sets up, for video and audio alike.

Contract:
- ``DecoderPool(module, spares)`` hands out children of ``python -m <module>`` (a module whose
  main is ``child.serve``). It keeps ``spares`` of them (DECODER_SPARES) started ahead, their
  decoding libraries already imported and waiting for a job, so a request does not wait the
  ~0.2 s a child takes to start; each one taken is replaced in the background. A spare that
  died, or that was started on another event loop, is dropped. ``close()`` ends the spares
  (they exit when their stdin closes).
- ``decode_isolated(pool, job, data, limits, noun)`` takes a child from the pool, sends it the
  job (a JSON-able dict) and the bytes, and returns the child's facts (a dict) and its result's
  data URL. Each child decodes one file and exits. The event loop only writes and reads pipes;
  all decoding, encoding and base64 work happens in the child.
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
import contextlib
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


class DecoderPool:
    def __init__(self, module: str, spares: int) -> None:
        self._module = module
        self._spares = spares
        self._ready: list[asyncio.subprocess.Process] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _start(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", self._module,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)

    async def _add_spare(self) -> None:
        self._ready.append(await self._start())

    def _refill(self) -> None:
        while len(self._ready) + len(self._starting) < self._spares:
            task = asyncio.get_running_loop().create_task(self._add_spare())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def take(self) -> asyncio.subprocess.Process:
        """A child waiting for its job: a spare if one is alive, else a new one."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._drop_all()
            self._loop = loop
        child = None
        while self._ready and child is None:
            candidate = self._ready.pop(0)
            if candidate.returncode is None:
                child = candidate
        self._refill()
        return child or await self._start()

    def _drop_all(self) -> None:
        for child in self._ready:
            if child.stdin is not None and not child.stdin.is_closing():
                child.stdin.close()
        self._ready = []

    async def close(self) -> None:
        # Spares still starting are awaited, not cancelled: a start cancelled half-way can
        # leave a child nobody tracks. They take milliseconds.
        await asyncio.gather(*self._starting, return_exceptions=True)
        children = self._ready
        self._drop_all()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                await asyncio.wait_for(child.wait(), 5)


async def decode_isolated(pool: DecoderPool, job: dict[str, Any], data: bytes,
                          limits: SandboxLimits, noun: str) -> tuple[dict[str, Any], str]:
    """The child's facts and result URL for ``data`` (see the module contract)."""
    request = {**job, "max_memory_mb": limits.max_memory_mb,
               "cpu_seconds": math.ceil(limits.timeout_s) + 1}
    header = json.dumps(request).encode()
    child = await pool.take()
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
                          f"({_death(returncode)}): the file is damaged or hostile, or needs "
                          f"more memory than {noun.upper()}_DECODE_MAX_MEMORY_MB allows")
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
