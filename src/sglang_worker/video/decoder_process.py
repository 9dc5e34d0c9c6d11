"""The video decoder's own process: ``python -m sglang_worker.video.decoder_process``.

Contract: one video per process. On stdin, a 4-byte big-endian header length, the JSON of a
``clip.ClipJob``, then the video's bytes; on stdout, a 4-byte header length, a JSON header
(``{"facts": {...}}`` or ``{"error": "..."}``), then the clip as the ASCII of a
``data:video/mp4;base64,`` URL: the base64 work is done here, at this process's lower
priority, not under the worker's GIL next to its event loop. Before it reads the
video, the process lowers its own CPU priority, caps its address space (``RLIMIT_AS``, from the
job's ``max_memory_mb``) and its CPU time, and turns core dumps off, so a decoder bug or a
decompression bomb ends here, not in the worker (``sandbox`` is the worker's side). Only
messages meant for the caller leave the process: a failure that is not a ``VideoError`` is
reported by its kind, never with the file's contents.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import struct
import sys
from dataclasses import asdict
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
NICENESS = 5


def _limit(max_memory_mb: int, cpu_seconds: int) -> None:
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    memory = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _answer(out: BinaryIO, header: dict[str, Any], clip: bytes = b"") -> None:
    text = json.dumps(header).encode()
    out.write(_HEADER.pack(len(text)) + text)
    if clip:
        out.write(b"data:video/mp4;base64,")
        out.write(base64.b64encode(clip))
    out.flush()


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    (length,) = _HEADER.unpack(stdin.read(_HEADER.size))
    request = json.loads(stdin.read(length))
    _limit(request.pop("max_memory_mb"), request.pop("cpu_seconds"))
    data = stdin.read()
    # Imported after the limits, so the decoder's libraries load inside them too.
    from sglang_worker.errors import VideoError
    from sglang_worker.video.clip import ClipJob, prepare_clip
    from sglang_worker.video.sampling import VideoRules

    try:
        job = ClipJob(**{**request, "rules": VideoRules(**request["rules"])})
        clip, facts = prepare_clip(data, job)
    except VideoError as exc:
        _answer(stdout, {"error": exc.message})
        return 0
    except MemoryError:
        _answer(stdout, {"error": "decoding the video needs more memory than the decoder may "
                                  "use (VIDEO_DECODE_MAX_MEMORY_MB)"})
        return 0
    except Exception as exc:  # any other decoder failure is this video's, reported by kind
        _answer(stdout, {"error": f"the video decoder failed on this file "
                                  f"({type(exc).__name__})"})
        return 0
    _answer(stdout, {"facts": asdict(facts)}, clip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
