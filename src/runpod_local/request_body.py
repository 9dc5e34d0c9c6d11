"""Request bodies of the public API: RunPod's size limits, the 413 they give, and JSON parsing.

Contract:
- Limits, in decimal megabytes as RunPod states them (so a body that passes here also passes
  on RunPod): ``/run`` 10 MB, ``/runsync`` 20 MB. RunPod does not document a limit for
  ``/openai/*``; it is a synchronous call like ``/runsync``, so it gets the same 20 MB.
  Other routes take no meaningful body and get 64 KB.
- Reading within a limit, the 413 message and JSON parsing are the worker's HTTP face's
  (``sglang_worker.http.body``), shared with the load-balancing mode.
- ``runsync_wait_s(value, default_s)``: RunPod's ``?wait=<ms>``, clamped to 1000..300000 ms.
"""

from __future__ import annotations

from sglang_worker.http.body import MB

RUN_LIMIT = 10 * MB
RUNSYNC_LIMIT = 20 * MB
OPENAI_LIMIT = 20 * MB
SMALL_LIMIT = 64 * 1000
WAIT_MIN_MS, WAIT_MAX_MS = 1_000, 300_000


def runsync_wait_s(value: str | None, default_s: float) -> float:
    if value is None:
        return default_s
    try:
        wait_ms = int(float(value))
    except (ValueError, OverflowError):  # not a number, or "inf"
        return default_s
    return min(max(wait_ms, WAIT_MIN_MS), WAIT_MAX_MS) / 1000.0
