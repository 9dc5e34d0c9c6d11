"""Loopback test doubles for image fetching: an HTTP server, a bare connection counter, a
stub DNS, and a guard that keeps every connection on loopback.

- ``ImageServer``: an aiohttp app on 127.0.0.1 that records each request's path; routes can be
  added while it runs.
- ``ConnectionCounter``: a TCP listener on loopback that counts accepted connections. It
  answers nothing, so zero means no connection was ever made, not merely no HTTP request.
- ``stub_dns``: replaces ``socket.getaddrinfo``. Names in its table resolve to the listed
  addresses; any other name fails, so no test depends on real DNS.
- ``guard_connections``: wraps the loop's connect calls, records every address a connection was
  attempted to, and refuses any non-loopback address before a packet leaves. A test is then
  safe even if the code under test is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ImageServer:
    def __init__(self) -> None:
        self.app = web.Application()
        # One catch-all route, so tests can add paths after the server started.
        self.app.router.add_get("/{path:.*}", self._dispatch)
        self.paths: list[str] = []
        self.port = 0
        self._handlers: dict[str, Handler] = {}
        self._runner: web.AppRunner | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        handler = self._handlers.get(request.path)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    def serve(self, path: str, body: bytes, *, content_type: str = "image/png",
              status: int = 200, headers: dict[str, str] | None = None) -> str:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, status=status, content_type=content_type,
                                headers=headers)
        return self.route(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.serve(path, b"", status=status, content_type="text/plain",
                          headers={"Location": location})

    def route(self, path: str, handler: Handler) -> str:
        self._handlers[path] = handler
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}" if self.port else path

    async def __aenter__(self) -> ImageServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


class ConnectionCounter:
    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._servers: list[asyncio.Server] = []

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> ConnectionCounter:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._servers.append(server)
        with contextlib.suppress(OSError):  # the same port on IPv6 loopback, if there is one
            self._servers.append(await asyncio.start_server(self._accept, "::1", self.port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()


def stub_dns(monkeypatch: pytest.MonkeyPatch,
             table: dict[str, list[str] | list[list[str]] | Exception]) -> list[str]:
    """Resolve names from ``table``; returns the list of names looked up, in order.

    A value is a list of addresses, an exception to raise, or a list of lists of addresses:
    one answer per lookup, the last repeated (a DNS answer that changes: rebinding).
    """
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                    flags: int = 0) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in table:
            if name in (None, "127.0.0.1", "::1", "localhost"):
                return real(host, port, family, type, proto, flags)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (stub DNS)")
        lookups.append(name)
        answer = table[name]
        if isinstance(answer, Exception):
            raise answer
        if answer and isinstance(answer[0], list):
            answer = answer[min(lookups.count(name), len(answer)) - 1]
        port_number = int(port or 0)
        infos = []
        for address in answer:
            if ipaddress.ip_address(address).version == 6:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "",
                              (address, port_number, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_number)))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def guard_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every connection attempt on the running loop; refuse non-loopback ones."""
    loop = asyncio.get_running_loop()
    attempts: list[str] = []

    def check(host: str) -> None:
        attempts.append(host)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise ConnectionRefusedError(f"test guard: refused to connect to {host}")

    real_sock_connect = loop.sock_connect
    real_create_connection = loop.create_connection

    async def sock_connect(sock: socket.socket, address: tuple[Any, ...]) -> None:
        check(address[0])
        return await real_sock_connect(sock, address)

    async def create_connection(protocol_factory: Any, host: Any = None, port: Any = None,
                                **kwargs: Any) -> Any:
        if host is not None:
            check(host)
        return await real_create_connection(protocol_factory, host, port, **kwargs)

    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    monkeypatch.setattr(loop, "create_connection", create_connection)
    return attempts
