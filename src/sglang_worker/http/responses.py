"""Writing OpenAI-compatible HTTP answers with aiohttp: JSON, errors, SSE, disconnects.

Contract:
- ``json_response(status, body)`` and ``error_response(status, message, param=...)``: JSON
  answers; an error's body is OpenAI's (``errors.openai_error_body``), its HTTP status the
  error's own, so the OpenAI SDK raises the matching exception class.
- ``sse_bytes(output)``: a str of SSE text goes out unchanged; any other value is framed as one
  ``data:`` event.
- ``stream_sse(request, chunks)``: writes every chunk the moment it arrives. The response is
  prepared at the first chunk, so a request that fails before it still gets a proper HTTP
  error: it returns ``None`` when there was no chunk, and the prepared response (not yet ended;
  the caller may write a last event, then ``write_eof``) otherwise.
- ``on_disconnect(awaitable, callback)``: awaits; if the client goes away first (aiohttp
  cancels the handler, or a write fails), runs ``callback`` and re-raises.
- ``NO_RETRY``: the header that keeps the OpenAI SDK from re-sending a request that must not
  be retried (it retries 409 and 5xx by default).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from sglang_worker.errors import openai_error_body

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
NO_RETRY = {"x-should-retry": "false"}
T = TypeVar("T")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def error_response(status: int, message: str, *, param: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return json_response(status, openai_error_body(status, message, param=param), headers)


def sse_bytes(output: Any) -> bytes:
    if isinstance(output, str):
        return output.encode("utf-8")
    return f"data: {json.dumps(output, ensure_ascii=False)}\n\n".encode()


async def stream_sse(request: web.Request,
                     chunks: AsyncIterator[bytes]) -> web.StreamResponse | None:
    response: web.StreamResponse | None = None
    async for chunk in chunks:
        if response is None:
            response = web.StreamResponse(headers=SSE_HEADERS)
            await response.prepare(request)
        await response.write(chunk)
    return response


async def on_disconnect(awaitable: Awaitable[T], callback: Callable[[], object]) -> T:
    try:
        return await awaitable
    except (asyncio.CancelledError, ConnectionError):
        callback()
        raise
