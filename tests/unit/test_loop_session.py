"""``loop_session.LoopSession``: a session is created lazily in the running loop and closed
cleanly however the loop ends, including by ``asyncio.run`` (how the RunPod SDK ends its loop,
with no hook for the worker)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import aiohttp

from sglang_worker.loop_session import LoopSession


def test_asyncio_run_ending_closes_the_session_without_a_warning() -> None:
    holder = LoopSession(aiohttp.ClientSession)
    created: list[aiohttp.ClientSession] = []

    async def use_and_leave() -> None:
        created.append(holder.get())  # and never closed by the caller

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(use_and_leave())
        gc.collect()
    assert created[0].closed
    assert not [w for w in caught if "Unclosed" in str(w.message)]


async def test_get_is_lazy_shared_and_renewed_after_close() -> None:
    holder = LoopSession(aiohttp.ClientSession)
    assert holder.current is None  # constructing does no I/O
    first = holder.get()
    assert holder.get() is first and holder.current is first
    await holder.close()
    assert first.closed and holder.current is None
    second = holder.get()
    assert second is not first and not second.closed
    await holder.close()
    assert second.closed


async def test_close_without_a_session_does_nothing() -> None:
    holder = LoopSession(aiohttp.ClientSession)
    await holder.close()
    assert holder.current is None
