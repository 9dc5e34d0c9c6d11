"""The decoder child's side of the exchange: what ``python -m sglang_worker.video.decoder_process``
(or ``...audio.decoder_process``) runs, one file per process.

Contract:
- On stdin, a 4-byte big-endian header length, the JSON job (with ``max_memory_mb`` and
  ``cpu_seconds`` for the limits), then the file's bytes; on stdout, a 4-byte header length, a
  JSON header (``{"facts": {...}}`` or ``{"error": "..."}``), then the result as the ASCII of a
  ``data:<mime>;base64,`` URL. The base64 work is done here, at this process's lower priority,
  not under the worker's GIL next to its event loop.
- ``serve(load, mime, noun)``: the process lowers its CPU priority and calls ``load()``, which
  imports the medium's decoding code and returns ``prepare(job, data) -> (bytes, facts)``, and
  only then waits for its job (so a spare child, ``sandbox.DecoderPool``, is ready at once).
  Before it reads the file it caps its address space (``RLIMIT_AS``, which counts what is
  already mapped) and its CPU time and turns core dumps off, so a decoder bug or a
  decompression bomb ends here, not in the worker. A stdin closed before any job (a spare the
  worker no longer needs) ends the process quietly.
- Only messages meant for the caller leave the process: a ``MediaPartError`` as worded, a
  ``MemoryError`` as the memory limit, anything else by its kind, never with the file's
  contents. Once the answer is flushed the process ends at once (``os._exit``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import struct
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
NICENESS = 5
Prepare = Callable[[dict[str, Any], bytes], tuple[bytes, dict[str, Any]]]


def _limit(max_memory_mb: int, cpu_seconds: int) -> None:
    memory = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _answer(out: BinaryIO, header: dict[str, Any], mime: str = "", result: bytes = b"") -> None:
    text = json.dumps(header).encode()
    out.write(HEADER.pack(len(text)) + text)
    if result:
        out.write(f"data:{mime};base64,".encode())
        out.write(base64.b64encode(result))
    out.flush()


def serve(load: Callable[[], Prepare], mime: str, noun: str) -> int:
    """Run one decoding job from stdin to stdout (see the module contract)."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    prepare = load()
    from sglang_worker.errors import MediaPartError

    size = stdin.read(HEADER.size)
    if len(size) < HEADER.size:
        return 0  # a spare that was never used
    (length,) = HEADER.unpack(size)
    job = json.loads(stdin.read(length))
    _limit(job.pop("max_memory_mb"), job.pop("cpu_seconds"))
    data = stdin.read()
    try:
        result, facts = prepare(job, data)
    except MediaPartError as exc:
        _answer(stdout, {"error": exc.message})
    except MemoryError:
        _answer(stdout, {"error": f"decoding the {noun} needs more memory than the decoder may "
                                  f"use ({noun.upper()}_DECODE_MAX_MEMORY_MB)"})
    except Exception as exc:  # any other decoder failure is this file's, reported by kind
        _answer(stdout, {"error": f"the {noun} decoder failed on this file "
                                  f"({type(exc).__name__})"})
    else:
        _answer(stdout, {"facts": facts}, mime, result)
    # The answer is written and flushed: skip the interpreter's teardown (tens of ms with the
    # decoding libraries loaded), which the worker would otherwise wait for.
    os._exit(0)
