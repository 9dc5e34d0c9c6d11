"""HTTP calls from the worker to its SGLang server, over one shared aiohttp session.

Contract:
- One ``aiohttp.ClientSession``, created lazily inside the running loop (the RunPod SDK owns
  the loop) and closed when that loop ends (``loop_session``), with a connect deadline
  (``ENGINE_CONNECT_TIMEOUT_S``), a read deadline between bytes (``ENGINE_READ_TIMEOUT_S``)
  and no total deadline, since a long generation is legitimate while it keeps producing.
- ``call(request)`` returns the engine's JSON response (a 2xx body that is not JSON, such as
  ``/health``'s empty one, comes back as ``{"status": <code>, "text": <body>}``);
  ``stream(request)`` yields batches of whole SSE events as they arrive (see
  ``events.batch_events``), never buffering the response.
- A 4xx/5xx answer raises the mapped ``WorkerError`` with SGLang's own message. Transport
  failures raise ``EngineUnavailable`` (connection refused or cut) or ``EngineTimeout``.
- Bodies are encoded with orjson (an SGLang dependency) straight to bytes: a request carrying
  megabytes of base64 images is serialised once, with no str detour. What orjson refuses
  (integers beyond 64 bits) falls back to the standard library, so any JSON a user sent goes
  through.
- The engine URL is built from the request's canonical route (``routes.engine_path``) with no
  re-encoding or dot-segment resolution, and a request whose URL path is not exactly that
  checked path is refused before anything is sent. A ``/v1/models/{id}`` route is refused
  too: the worker answers model lookups from the list, so no caller's id reaches SGLang.
- When the caller stops early (the job is cancelled or the consumer goes away) the response is
  closed, not returned to the pool, so SGLang sees the disconnect and aborts the generation.
  A response read to its end goes back to the pool: connections to SGLang are kept alive.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from sglang_worker.engine.events import batch_events
from sglang_worker.errors import (
    EngineTimeout,
    EngineUnavailable,
    InvalidRequest,
    engine_error_from_body,
)
from sglang_worker.loop_session import LoopSession
from sglang_worker.routes import engine_path, model_id
from sglang_worker.settings import Settings

_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """One call to SGLang. Built only by ``pipeline.request.build_request``."""

    route: str  # canonical and allowed (routes.py); the client sends exactly this
    method: str  # "GET" or "POST"
    body: dict[str, Any] | None
    stream: bool
    # /v1/models/{id}: the route is /v1/models and the pipeline answers with this model's entry
    model_id: str | None = None


def _plain(route: str) -> bool:
    """What a canonical route is, checked without parsing it again: a leading ``/`` and
    segments that are neither empty nor made of dots (defence in depth: an ``EngineRequest``
    built around ``routes.parse_route`` is refused)."""
    segments = route.split("/")
    return segments[0] == "" and all(part and part.strip(".") for part in segments[1:])


def encode_json(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        return json.dumps(body, ensure_ascii=False).encode()


class EngineClient:
    def __init__(self, base_url: str, settings: Settings):
        self.base_url = base_url
        self._base = URL(base_url)
        self._settings = settings
        self._session = LoopSession(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._settings.engine_connect_timeout_s,
            sock_read=self._settings.engine_read_timeout_s,
        )
        return aiohttp.ClientSession(
            timeout=timeout,
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        )

    async def close(self) -> None:
        await self._session.close()

    def url_for(self, route: str) -> URL:
        """The engine URL for a canonical route: exactly the checked path, or a refusal."""
        if model_id(route) is not None:
            raise InvalidRequest(f"route {route!r} is answered by the worker, not the engine",
                                 param="openai_route")
        path = engine_path(route)
        url = URL.build(scheme=self._base.scheme, host=self._base.raw_host or "",
                        port=self._base.explicit_port, path=path, encoded=True)
        if url.raw_path != path or not _plain(route):
            raise InvalidRequest(f"route {route!r} does not map to one engine path",
                                 param="openai_route")
        return url

    @asynccontextmanager
    async def _open(self, request: EngineRequest) -> AsyncIterator[aiohttp.ClientResponse]:
        url = self.url_for(request.route)
        session = self._session.get()
        try:
            body = None if request.body is None else encode_json(request.body)
            async with session.request(request.method, url, data=body,
                                       headers=_JSON if body is not None else None) as response:
                if response.status >= 400:
                    raise engine_error_from_body(response.status, await response.read())
                try:
                    yield response
                except BaseException:
                    # Unfinished (cancelled, consumer gone, failed): drop the connection so
                    # SGLang sees the disconnect and aborts. A finished response is released
                    # to the pool instead, keeping the connection alive for the next job.
                    response.close()
                    raise
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise EngineTimeout(
                f"the engine sent nothing for {self._settings.engine_read_timeout_s:.0f} s "
                "(ENGINE_READ_TIMEOUT_S)"
            ) from None
        except aiohttp.ClientConnectorError:
            raise EngineUnavailable(
                f"cannot connect to the engine at {self.base_url}: it is not running"
            ) from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise EngineUnavailable(
                f"the engine closed the connection before it finished answering "
                f"({type(exc).__name__})"
            ) from None

    async def call(self, request: EngineRequest) -> Any:
        async with self._open(request) as response:
            body = await response.read()
        try:
            return orjson.loads(body)
        except ValueError:
            return {"status": response.status, "text": body.decode("utf-8", "replace")}

    async def stream(self, request: EngineRequest) -> AsyncIterator[list[bytes]]:
        async with self._open(request) as response, aclosing(batch_events(
            response.content,
            window_s=self._settings.stream_batch_window_ms / 1000.0,
            max_bytes=self._settings.stream_max_yield_bytes,
        )) as batches:
            async for batch in batches:
                yield batch
