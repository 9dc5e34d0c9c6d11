"""SSE re-framing (whole events at every split) and the batching window."""

import asyncio

import pytest

from sglang_worker.engine.events import batch_events, engine_error_in
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


class FakeStream:
    """Chunks released by the test, with b"" at the end: a stand-in for aiohttp's readany."""

    def __init__(self):
        self.queue = asyncio.Queue()

    async def read(self):
        return await self.queue.get()


async def collect(stream, window_s, max_bytes=1 << 20):
    batches = []

    async def run():
        async for batch in batch_events(stream.read, window_s=window_s, max_bytes=max_bytes):
            batches.append(batch)

    return batches, asyncio.create_task(run())


async def test_first_event_is_yielded_at_once_even_with_a_long_window():
    stream = FakeStream()
    batches, task = await collect(stream, window_s=3600)
    stream.queue.put_nowait(b"data: 1\n\n")
    for _ in range(5):
        await asyncio.sleep(0)
    assert batches == [[b"data: 1\n\n"]]
    stream.queue.put_nowait(b"")
    await task


async def test_events_inside_the_window_are_batched_and_flushed_when_it_closes():
    stream = FakeStream()
    batches, task = await collect(stream, window_s=0.05)
    stream.queue.put_nowait(b"data: 1\n\n")
    await asyncio.sleep(0.001)
    for n in (2, 3, 4):
        stream.queue.put_nowait(f"data: {n}\n\n".encode())
    await asyncio.sleep(0.001)
    assert batches == [[b"data: 1\n\n"]]  # held inside the window
    await asyncio.sleep(0.1)  # the window closes with no new read: flushed by the timer
    assert batches[1] == [b"data: 2\n\n", b"data: 3\n\n", b"data: 4\n\n"]
    stream.queue.put_nowait(b"")
    await task
    assert len(batches) == 2


async def test_zero_window_yields_each_read_and_max_bytes_flushes_early():
    stream = FakeStream()
    batches, task = await collect(stream, window_s=0)
    for n in range(3):
        stream.queue.put_nowait(f"data: {n}\n\n".encode())
    stream.queue.put_nowait(b"")
    await task
    assert [len(b) for b in batches] == [1, 1, 1]

    stream = FakeStream()
    batches, task = await collect(stream, window_s=3600, max_bytes=20)
    stream.queue.put_nowait(b"data: first\n\n")
    stream.queue.put_nowait(b"data: 0123456789abcdef\n\n")
    stream.queue.put_nowait(b"")
    await task
    assert batches == [[b"data: first\n\n"], [b"data: 0123456789abcdef\n\n"]]


async def test_stream_cut_inside_an_event_raises():
    stream = FakeStream()
    stream.queue.put_nowait(b"data: 1\n\ndata: {")
    stream.queue.put_nowait(b"")
    with pytest.raises(ConnectionError):
        async for _ in batch_events(stream.read, window_s=0, max_bytes=1 << 20):
            pass


async def test_the_readers_own_timeout_propagates_and_is_not_taken_for_the_window():
    stream = FakeStream()
    stream.queue.put_nowait(b"data: 1\n\n")

    async def read():
        if stream.queue.empty():
            raise TimeoutError("engine silent")
        return await stream.read()

    batches = []
    with pytest.raises(TimeoutError, match="engine silent"):
        async for batch in batch_events(read, window_s=3600, max_bytes=1 << 20):
            batches.append(batch)
    assert batches == [[b"data: 1\n\n"]]
