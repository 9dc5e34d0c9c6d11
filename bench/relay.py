"""The least an HTTP hop in Python can do: a bare aiohttp relay in front of an SGLang server.

``python bench/relay.py <engine-url> <port>`` forwards each POST body to the same path on the
engine and copies the answer back as it arrives (``readany`` to ``write``), with no checks,
no parsing and no logging; ``GET /ping`` answers 200 once it listens. The benchmarks put it
beside the worker, on the same engine and the same requests, so the cost of any Python hop
on this machine (aiohttp's server, its client, the extra loopback connection) is measured
apart from the cost of what the worker does on the way. It is a measuring stick, not
something to deploy: it forwards anything to anything on the engine.
"""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web


def relay_app(engine: str) -> web.Application:
    async def open_session(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60))

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        session: aiohttp.ClientSession = request.app["session"]
        async with session.post(engine + request.path, data=body,
                                headers={"Content-Type": "application/json"}) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={"Content-Type": upstream.headers.get("Content-Type", "")})
            await response.prepare(request)
            while chunk := await upstream.content.readany():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_get("/ping", ping)
    app.router.add_post("/{path:.*}", forward)
    return app


if __name__ == "__main__":
    web.run_app(relay_app(sys.argv[1].rstrip("/")), host="127.0.0.1", port=int(sys.argv[2]),
                access_log=None, print=None)
