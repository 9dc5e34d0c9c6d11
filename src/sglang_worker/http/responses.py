"""Writing OpenAI-compatible HTTP answers with aiohttp: JSON, errors, SSE, disconnects.

Contract:
- ``json_response(status, body)`` and ``error_response(status, message, param=...)``: JSON
  answers; an error's body takes the route's shape (``errors.error_body``: OpenAI's, Anthropic's
  on the Messages API routes, SGLang's on its retrieval routes), at the error's own HTTP
  status, so each SDK raises its matching exception class.
- ``sse_bytes(output)``: a str of SSE text goes out unchanged; any other value is framed as one
  ``data:`` event.
- ``SSEWriter(request)``: ``write(chunk)`` sends each chunk the moment it arrives. The response
  is prepared at the first chunk, so a request that fails before it (``started`` is false)
  still gets a proper HTTP error; after it, a failure can only be sent in-band.
  ``finish(last)`` ends the response, sending ``last`` in the same write as the end of the
  body (one send, not two, for a stream's final events); ``finished`` says it was called.
- ``on_disconnect(awaitable, callback)``: awaits; if the client goes away first (aiohttp
  cancels the handler, or a write fails), runs ``callback`` and re-raises.
- ``NO_RETRY``: the header that keeps the OpenAI SDK from re-sending a request that must not
  be retried (it retries 409 and 5xx by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from sglang_worker.errors import ErrorShape, error_body
from sglang_worker.sse import data_event

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
NO_RETRY = {"x-should-retry": "false"}
T = TypeVar("T")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def error_response(status: int, message: str, *, param: str | None = None,
                   headers: dict[str, str] | None = None,
                   shape: ErrorShape = "openai") -> web.Response:
    return json_response(status, error_body(status, message, param=param, shape=shape), headers)


def sse_bytes(output: Any) -> bytes:
    if isinstance(output, str):
        return output.encode("utf-8")
    return data_event(output).encode()


class SSEWriter:
    def __init__(self, request: web.Request) -> None:
        self._request = request
        self.response: web.StreamResponse | None = None
        self.finished = False

    @property
    def started(self) -> bool:
        return self.response is not None

    async def _started(self) -> web.StreamResponse:
        if self.response is None:
            self.response = web.StreamResponse(headers=SSE_HEADERS)
            await self.response.prepare(self._request)
        return self.response

    async def write(self, chunk: bytes) -> None:
        await (await self._started()).write(chunk)

    async def finish(self, last: bytes = b"") -> web.StreamResponse:
        assert last or self.response is not None, "finish() before the first chunk"
        response = await self._started()
        if not self.finished:
            self.finished = True
            await response.write_eof(last)
        return response


async def on_disconnect(awaitable: Awaitable[T], callback: Callable[[], object]) -> T:
    try:
        return await awaitable
    except (asyncio.CancelledError, ConnectionError):
        callback()
        raise
