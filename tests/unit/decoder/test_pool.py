"""The spare decoder processes (``decoder.sandbox.DecoderPool``), with real children: a spare
is started ahead and handed out next, a dead one is never handed out, an unused one exits
quietly when the pool closes, and a pooled child decodes like a fresh one."""

from __future__ import annotations

import asyncio

from sglang_worker.audio.pipeline import DECODER
from sglang_worker.decoder.sandbox import DecoderPool, SandboxLimits, decode_isolated
from tests.support import audio_corpus as corpus

LIMITS = SandboxLimits(30, 1024)
JOB = {"rules": {"rate": 16000, "window_s": None}, "max_seconds": 60, "format": None}


async def settled(pool: DecoderPool) -> None:
    """Until the pool's background starts are done."""
    while pool._starting:
        await asyncio.sleep(0.01)


async def end(child: asyncio.subprocess.Process) -> None:
    """A child taken from the pool and not used: killed, and waited for."""
    child.kill()
    await child.wait()


async def test_a_spare_is_started_ahead_and_handed_out_next():
    pool = DecoderPool(DECODER, 1)
    try:
        first = await pool.take()
        await settled(pool)
        (spare,) = pool._ready
        assert spare.pid != first.pid and spare.returncode is None
        second = await pool.take()
        assert second.pid == spare.pid
        await end(first)
        await end(second)
    finally:
        await pool.close()


async def test_a_dead_spare_is_not_handed_out():
    pool = DecoderPool(DECODER, 1)
    try:
        await end(await pool.take())
        await settled(pool)
        (spare,) = pool._ready
        await end(spare)
        taken = await pool.take()
        assert taken.pid != spare.pid and taken.returncode is None
        await end(taken)
    finally:
        await pool.close()


async def test_unused_spares_exit_quietly_on_close():
    pool = DecoderPool(DECODER, 2)
    await end(await pool.take())
    await settled(pool)
    spares = list(pool._ready)
    assert len(spares) == 2
    await pool.close()
    assert [child.returncode for child in spares] == [0, 0]


async def test_a_pooled_child_decodes_as_a_fresh_one_does():
    pool, fresh = DecoderPool(DECODER, 1), DecoderPool(DECODER, 0)
    data = corpus.wav(48000, 1.5, 2)
    try:
        await settled(pool)
        answers = [await decode_isolated(p, JOB, data, LIMITS, "audio") for p in (pool, fresh)]
        await settled(pool)
        answers.append(await decode_isolated(pool, JOB, data, LIMITS, "audio"))
    finally:
        await pool.close()
        await fresh.close()
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0]["seconds_out"] == 1.5
