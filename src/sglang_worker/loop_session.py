"""An aiohttp session that belongs to the event loop that first uses it, and is closed cleanly
however that loop ends.

Why: deployed, the RunPod SDK owns the event loop (``asyncio.run`` inside
``runpod.serverless.start``) and offers no hook before it closes it, so the worker cannot await
``session.close()`` itself; aiohttp then reports "Unclosed client session" and "Unclosed
connector" at every exit. ``asyncio.run`` cancels every task still pending before it closes
the loop, so each session gets a small guard task that waits for that cancel and closes the
session then.

Contract:
- ``LoopSession(factory)`` does no I/O. ``get()``, called inside a running loop, returns the
  open session, creating it with ``factory()`` (and its guard) on first use or after a close.
- ``current`` is the open session, or None.
- ``close()`` closes the session now; the loop ending closes it otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aiohttp


async def _close_when_cancelled(session: aiohttp.ClientSession) -> None:
    try:
        await asyncio.get_running_loop().create_future()  # resolved by nobody: only a cancel
    finally:
        await session.close()


class LoopSession:
    def __init__(self, factory: Callable[[], aiohttp.ClientSession]) -> None:
        self._factory = factory
        self._session: aiohttp.ClientSession | None = None
        self._guard: asyncio.Task[None] | None = None

    @property
    def current(self) -> aiohttp.ClientSession | None:
        return self._session if self._session is not None and not self._session.closed else None

    def get(self) -> aiohttp.ClientSession:
        session = self.current
        if session is None:
            session = self._session = self._factory()
            self._guard = asyncio.get_running_loop().create_task(
                _close_when_cancelled(session), name="close aiohttp session at loop end")
        return session

    async def close(self) -> None:
        session, guard = self._session, self._guard
        self._session = self._guard = None
        if guard is not None:
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard
        if session is not None:
            await session.close()  # a guard cancelled before it first ran did not close it
