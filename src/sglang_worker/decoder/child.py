"""The decoder child's side of the exchange: what ``python -m sglang_worker.video.decoder_process``
(or ``...audio.decoder_process``) runs, one file per process.

Contract:
- On stdin, a 4-byte big-endian header length, the JSON job (with ``max_memory_mb`` and
  ``cpu_seconds`` for the limits), then the file's bytes; on stdout, a 4-byte header length, a
  JSON header (``{"facts": {...}}`` or ``{"error": "..."}``), then the result as the ASCII of a
  ``data:<mime>;base64,`` URL. The base64 work is done here, at this process's lower priority,
  not under the worker's GIL next to its event loop.
- ``serve(load, mime, noun)``: before it reads the file, the process lowers its CPU priority,
  caps its address space (``RLIMIT_AS``) and its CPU time and turns core dumps off, so a
  decoder bug or a decompression bomb ends here, not in the worker. Only then is ``load()``
  called, which imports the medium's decoding code (its native libraries load inside the
  limits too) and returns ``prepare(job, data) -> (bytes, facts)``.
- Only messages meant for the caller leave the process: a ``MediaPartError`` as worded, a
  ``MemoryError`` as the memory limit, anything else by its kind, never with the file's
  contents.
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
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
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
    (length,) = HEADER.unpack(stdin.read(HEADER.size))
    job = json.loads(stdin.read(length))
    _limit(job.pop("max_memory_mb"), job.pop("cpu_seconds"))
    data = stdin.read()
    from sglang_worker.errors import MediaPartError

    try:
        result, facts = load()(job, data)
    except MediaPartError as exc:
        _answer(stdout, {"error": exc.message})
        return 0
    except MemoryError:
        _answer(stdout, {"error": f"decoding the {noun} needs more memory than the decoder may "
                                  f"use ({noun.upper()}_DECODE_MAX_MEMORY_MB)"})
        return 0
    except Exception as exc:  # any other decoder failure is this file's, reported by kind
        _answer(stdout, {"error": f"the {noun} decoder failed on this file "
                                  f"({type(exc).__name__})"})
        return 0
    _answer(stdout, {"facts": facts}, mime, result)
    return 0
