"""Base64 for multi-megabyte images, in slices, so no single call holds the GIL for long.

Contract:
- ``decode(text)`` is ``binascii.a2b_base64(text, strict_mode=True)`` and ``encode(data)`` is
  ``base64.b64encode(data).decode("ascii")``, same results, same errors.
- Both work in slices of ``SLICE`` characters (aligned to whole base64 quanta). The C calls do
  not release the GIL, and the image thread pool runs them next to the event loop: a 24 MP
  photo is ~10 MB of base64, one ~20 ms call that would stall every stream in the worker. A
  slice costs well under a millisecond, and the interpreter can switch threads between slices.
"""

from __future__ import annotations

import binascii

SLICE = 256 * 1024  # characters of base64; a multiple of 4


def decode(text: str) -> bytes:
    if len(text) <= SLICE:
        return binascii.a2b_base64(text, strict_mode=True)
    if len(text) % 4 or text.find("=", 0, len(text) - 2) >= 0:
        # Padding may only end the text; between slices it would be accepted silently.
        raise binascii.Error("Incorrect padding")
    return b"".join(binascii.a2b_base64(text[i:i + SLICE], strict_mode=True)
                    for i in range(0, len(text), SLICE))


def encode(data: bytes) -> str:
    step = SLICE // 4 * 3  # bytes per slice: whole 3-byte groups, so no padding inside
    view = memoryview(data)
    return "".join(binascii.b2a_base64(view[i:i + step], newline=False).decode("ascii")
                   for i in range(0, len(view), step))
