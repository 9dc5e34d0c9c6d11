"""SSE re-framing (whole events at every split) and the batching window."""

import asyncio
from unittest import mock

import aiohttp
import pytest
from aiohttp.base_protocol import BaseProtocol

from sglang_worker.engine.events import batch_events, engine_error_in, within
from sglang_worker.errors import EngineRequestError
from sglang_worker.sse import SSEFramer, event_data

STREAM = (
    b'data: {"id":"1","choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"id":"1","choices":[{"delta":{"content":"caf\xc3\xa9 \\"quoted\\" error"}}]}\n\n'
    b": keep-alive comment\n\n"
    b'data: {"id":"1","choices":[{"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
EVENTS = STREAM.split(b"\n\n")[:-1]


def frame(chunks):
    framer, out = SSEFramer(), []
    for chunk in chunks:
        out += framer.feed(chunk)
    assert framer.pending == b""
    return out


def test_whole_stream_in_one_read():
    assert frame([STREAM]) == [e + b"\n\n" for e in EVENTS]


@pytest.mark.parametrize("offset", range(1, len(STREAM)))
def test_split_at_every_byte_offset_gives_the_same_events(offset):
    assert frame([STREAM[:offset], STREAM[offset:]]) == [e + b"\n\n" for e in EVENTS]


def test_byte_by_byte():
    assert frame([STREAM[i:i + 1] for i in range(len(STREAM))]) == [e + b"\n\n" for e in EVENTS]


@pytest.mark.parametrize("offset", range(1, 40))
def test_crlf_line_endings_split_anywhere(offset):
    crlf = STREAM.replace(b"\n", b"\r\n")[:120] + b"\r\n\r\n"
    events = frame([crlf[:offset], crlf[offset:]])
    assert all(e.endswith(b"\n\n") and b"\r" not in e for e in events)
    assert events[0] == EVENTS[0] + b"\n\n"


def test_cut_stream_leaves_pending_bytes():
    framer = SSEFramer()
    assert framer.feed(b'data: {"a"') == []
    assert framer.pending == b'data: {"a"'


def test_event_data():
    assert event_data(b'data: {"a":1}\n\n') == '{"a":1}'
    assert event_data(b"data:x\ndata: y\n\n") == "x\ny"
    assert event_data(b": comment\n\n") is None


def test_engine_error_events_are_recognised_and_token_text_is_not():
    sglang = b'data: {"object":"error","message":"bad","type":"BadRequestError","code":400}\n\n'
    error = engine_error_in(sglang)
    assert isinstance(error, EngineRequestError) and error.message == "bad"
    openai = b'data: {"error":{"message":"worse","code":400}}\n\n'
    assert engine_error_in(openai).message == "worse"
    for event in frame([STREAM]):
        assert engine_error_in(event) is None


def engine_stream() -> aiohttp.StreamReader:
    """aiohttp's own reader, as the engine's response body is read, fed by the test."""
    loop = asyncio.get_running_loop()
    protocol = BaseProtocol(loop)
    protocol.transport = mock.Mock(asyncio.Transport)  # an open connection
    return aiohttp.StreamReader(protocol, 2**16, loop=loop)


async def collect(stream, window_s, max_bytes=1 << 20):
    batches = []

    async def run():
        async for batch in batch_events(stream, window_s=window_s, max_bytes=max_bytes):
            batches.append(batch)

    return batches, asyncio.create_task(run())


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_first_event_is_yielded_at_once_even_with_a_long_window():
    stream = engine_stream()
    batches, task = await collect(stream, window_s=3600)
    stream.feed_data(b"data: 1\n\n")
    await settle()
    assert batches == [[b"data: 1\n\n"]]
    stream.feed_eof()  # the end is not held back by the window
    await asyncio.wait_for(task, 1)


async def test_a_first_event_split_across_reads_is_yielded_when_it_completes():
    stream = engine_stream()
    batches, task = await collect(stream, window_s=3600)
    stream.feed_data(b"data: fir")
    await settle()
    stream.feed_data(b"st\n\n")
    await settle()
    assert batches == [[b"data: first\n\n"]]
    stream.feed_eof()
    await asyncio.wait_for(task, 1)


async def test_events_inside_the_window_are_batched_and_flushed_when_it_closes():
    stream = engine_stream()
    batches, task = await collect(stream, window_s=0.05)
    stream.feed_data(b"data: 1\n\n")
    await asyncio.sleep(0.001)
    for n in (2, 3, 4):
        stream.feed_data(f"data: {n}\n\n".encode())
        await asyncio.sleep(0)
    await asyncio.sleep(0.001)
    assert batches == [[b"data: 1\n\n"]]  # held inside the window
    await asyncio.sleep(0.1)  # the window closes with no new data: flushed by the timer
    assert batches[1] == [b"data: 2\n\n", b"data: 3\n\n", b"data: 4\n\n"]
    await asyncio.sleep(0.1)  # a quiet window: the next event is sent the moment it comes
    stream.feed_data(b"data: 5\n\n")
    await settle()
    assert batches[2] == [b"data: 5\n\n"]
    stream.feed_eof()
    await task
    assert len(batches) == 3


async def test_zero_window_yields_each_read_and_max_bytes_splits_a_held_batch():
    stream = engine_stream()
    batches, task = await collect(stream, window_s=0)
    for n in range(3):
        stream.feed_data(f"data: {n}\n\n".encode())
        await settle()
    stream.feed_eof()
    await task
    assert [len(b) for b in batches] == [1, 1, 1]

    stream = engine_stream()
    batches, task = await collect(stream, window_s=0.02, max_bytes=30)
    stream.feed_data(b"data: first\n\n")
    await settle()
    stream.feed_data(b"data: 0123456789abcdef\n\n" * 2 + b"data: x\n\n")
    stream.feed_eof()
    await task
    assert batches == [[b"data: first\n\n"], [b"data: 0123456789abcdef\n\n"],
                       [b"data: 0123456789abcdef\n\n"], [b"data: x\n\n"]]


async def test_stream_cut_inside_an_event_raises():
    stream = engine_stream()
    stream.feed_data(b"data: 1\n\ndata: {")
    stream.feed_eof()
    with pytest.raises(ConnectionError):
        async for _ in batch_events(stream, window_s=0, max_bytes=1 << 20):
            pass


async def test_the_readers_own_errors_propagate_inside_a_window_and_are_not_taken_for_it():
    for error in (aiohttp.ServerTimeoutError("engine silent"),
                  aiohttp.ClientPayloadError("engine gone")):
        stream = engine_stream()
        batches, task = await collect(stream, window_s=3600)
        stream.feed_data(b"data: 1\n\n")
        await settle()
        stream.set_exception(error)  # aiohttp's read timeout, or a cut connection
        with pytest.raises(type(error)):
            await asyncio.wait_for(task, 1)
        assert batches == [[b"data: 1\n\n"]]


def test_within_cuts_in_order_below_the_limit_and_a_large_event_goes_alone():
    events = [b"a" * 10, b"b" * 10, b"c" * 25, b"d" * 5, b"e" * 5]
    assert within(events, 20) == [[b"a" * 10, b"b" * 10], [b"c" * 25], [b"d" * 5, b"e" * 5]]
    assert within([], 20) == []
    assert [e for batch in within(events, 1) for e in batch] == events
