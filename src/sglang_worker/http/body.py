"""Request bodies over HTTP: read within a limit, answer an oversized one cleanly, parse JSON.
The one body reader of both HTTP faces (lb mode's ``http.app`` and the local endpoint's
routes).

Contract:
- ``too_large_message(size, limit, route)`` is the pure check: None when the body fits, else
  the 413 message, which names the size, the limit (in decimal megabytes, as RunPod states
  its limits) and the fix (large images belong behind URLs: base64 adds a third).
- ``read_json(request, limit, route)`` reads the body (``read_within``: counting bytes as they
  arrive, since a chunked upload has no Content-Length) and returns the JSON object it holds
  (``parse_json_object``). An oversized body is still read to its end, up to
  ``DRAIN_MAX_BYTES``, and discarded, so the client gets the 413 instead of a connection reset
  in the middle of its upload; beyond that the connection is closed. Errors are of the one
  tree (``errors``): ``BodyTooLarge`` (413), or ``InvalidRequest`` (400) for a body that is
  not a JSON object.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sglang_worker.errors import BodyTooLarge, InvalidRequest

MB = 1_000_000
DRAIN_MAX_BYTES = 256 * MB


def too_large_message(size: int, limit: int, route: str) -> str | None:
    if size <= limit:
        return None
    return (f"request body is {size / MB:.1f} MB, over the {limit / MB:g} MB limit of {route} "
            "(RunPod's limit). Send large images as URLs instead of base64, which adds a third "
            "to their size.")


async def read_within(request: web.Request, limit: int, route: str) -> bytes:
    declared = request.content_length or 0
    over = declared > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        over = over or size > limit
        if not over:
            chunks.append(chunk)
        else:
            chunks.clear()
            if size > DRAIN_MAX_BYTES:
                break  # stop reading: the connection is closed after the 413
    message = too_large_message(max(size, declared), limit, route) if over else None
    if message is not None:
        raise BodyTooLarge(message)
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object, got "
                             f"{type(body).__name__}")
    return body


async def read_json(request: web.Request, limit: int, route: str) -> dict[str, Any]:
    return parse_json_object(await read_within(request, limit, route))
