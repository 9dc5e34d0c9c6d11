"""The orchestrator, plain logic only: ``Pipeline`` (images, engine call or stream, the engine's
death) and its job face ``Worker`` (the job error contract), over a fake engine client and a stub
image pipeline. The real server's behaviour is covered by the integration tests."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sglang_worker.audio.pipeline import AudioPipeline
from sglang_worker.engine.client import EngineRequest
from sglang_worker.engine.server import EngineInfo
from sglang_worker.errors import (
    EngineRequestError,
    EngineUnavailable,
    VisionNotSupported,
    WorkerError,
    sse_error_event,
)
from sglang_worker.images import ImagePart, ImageReport, Location, PixelGrid
from sglang_worker.jobs import Worker
from sglang_worker.jobs.output import job_error
from sglang_worker.pipeline import Pipeline, RequestStats, build_request
from sglang_worker.pipeline.runner import ENGINE_DIED, ENGINE_STOPPED
from sglang_worker.pipeline.stream import sse_text
from sglang_worker.routes import CHAT_ROUTE, Route
from sglang_worker.settings import Settings
from sglang_worker.video.pipeline import VideoPipeline
from tests.support.worker_jobs import run_job

CUT = "the engine closed the connection before it finished answering (ClientPayloadError)"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
IMAGE_CHAT = {"messages": [{"role": "user", "content": [
    {"type": "text", "text": "What is this?"},
    {"type": "image_url", "image_url": {"url": "https://images.example.com/cat.png"}}]}]}
PREPARED_URL = "data:image/png;base64,iVBORw0KGgo="
RESPONSE = {"object": "chat.completion", "choices": [{"message": {"content": "hello"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2}}


def chunk(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n"


USAGE = b'data: {"choices": [], "usage": {"completion_tokens": 3}}\n\n'
DONE = b"data: [DONE]\n\n"
ENGINE_ERROR = (b'data: {"error": {"message": "bad things happened", '
                b'"type": "BadRequestError", "code": 400}}\n\n')


class FakeEngine:
    """The engine process: alive until ``die()``."""

    def __init__(self, alive: bool = True):
        self.alive = alive

    def die(self) -> None:
        self.alive = False


class FakeClient:
    """``call`` answers ``response``; ``stream`` yields ``batches``; then ``fail`` is raised
    (``before_fail`` runs first, e.g. to kill the engine)."""

    def __init__(self, *, response: Any = None, batches: list[list[bytes]] | None = None,
                 fail: BaseException | None = None, before_fail: Any = None):
        self.response = response
        self.batches = batches or []
        self.fail = fail
        self.before_fail = before_fail
        self.requests: list[EngineRequest] = []
        self.stream_closed = False
        self.closed = False

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            if self.before_fail is not None:
                self.before_fail()
            raise self.fail

    async def call(self, request: EngineRequest) -> Any:
        self.requests.append(request)
        self._maybe_fail()
        return self.response

    async def stream(self, request: EngineRequest) -> AsyncIterator[list[bytes]]:
        self.requests.append(request)
        try:
            for batch in self.batches:
                yield batch
            self._maybe_fail()
        finally:
            self.stream_closed = True

    async def close(self) -> None:
        self.closed = True


TINY_PROCESSOR = {"image_processor_type": "Qwen2VLImageProcessor", "min_pixels": 3136,
                  "max_pixels": 12544, "patch_size": 14, "merge_size": 2}


class StubImages:
    """Replaces every image part's URL with a fixed data URL, reporting one re-encoded image."""

    def __init__(self) -> None:
        self.prepared: list[str] = []
        self.grids: list[PixelGrid | None] = []
        self.closed = False

    async def prepare(self, parts: list[ImagePart], grid: PixelGrid | None = None
                      ) -> tuple[dict[Location, str], ImageReport]:
        self.prepared.append([part.param for part in parts])
        self.grids.append(grid)
        return {part.location: PREPARED_URL for part in parts}, ImageReport(
            count=1, total_bytes_in=1234, seconds=0.25, changed=1,
            sizes=(((4000, 3000), (112, 84)),), cache_hits=1)

    async def close(self) -> None:
        self.closed = True


def make(client: FakeClient, *, vision: bool = False, engine: FakeEngine | None = None,
         settle_s: float = 0.5) -> tuple[Pipeline, StubImages, FakeEngine]:
    engine = engine or FakeEngine()
    images = StubImages()
    info = EngineInfo("http://127.0.0.1:1", "tiny", vision, vocab_size=512,
                      model_type="qwen2_vl", preprocessor=TINY_PROCESSOR)
    pipeline = Pipeline(info, client, images, VideoPipeline(Settings()),  # type: ignore[arg-type]
                        AudioPipeline(Settings()), lambda: engine.alive,
                        death_settle_s=settle_s)
    return pipeline, images, engine


def chat_request(body: dict[str, Any], *, stream: bool = False) -> EngineRequest:
    return build_request(Route(CHAT_ROUTE), {**body, "stream": stream}, served_model="tiny")


def error_body(output: dict[str, str]) -> dict[str, Any]:
    assert set(output) == {"error"}
    return json.loads(output["error"])["error"]


async def collect(pipeline: Pipeline, request: EngineRequest, stats: RequestStats,
                  into: list[list[bytes]]) -> None:
    async for events in pipeline.events(request, stats):
        into.append(events)


# --- Pipeline --------------------------------------------------------------------------------

def test_a_dead_engine_is_refused_with_the_retry_wording():
    pipeline, _, _ = make(FakeClient(), engine=FakeEngine(alive=False))
    with pytest.raises(EngineUnavailable) as info:
        pipeline.check_alive()
    assert (info.value.message, info.value.status) == (ENGINE_STOPPED, 503)
    make(FakeClient())[0].check_alive()  # a live engine: no error


async def test_images_to_a_text_only_model_are_refused_before_any_work():
    client = FakeClient(response=RESPONSE)
    pipeline, images, _ = make(client, vision=False)
    stats = RequestStats()
    with pytest.raises(VisionNotSupported) as info:
        await pipeline.call(chat_request(IMAGE_CHAT), stats)
    assert info.value.message == "Model tiny does not support vision (image or video) inputs"
    assert info.value.status == 400
    assert (images.prepared, client.requests, stats.images) == ([], [], 1)


async def test_images_are_prepared_before_the_engine_sees_them_and_counted():
    client = FakeClient(response=RESPONSE)
    pipeline, images, _ = make(client, vision=True)
    stats = RequestStats()
    await pipeline.call(chat_request(IMAGE_CHAT), stats)
    assert images.prepared == [["messages[0].content[1]"]]
    (sent,) = client.requests
    assert sent.body["messages"][0]["content"][1]["image_url"]["url"] == PREPARED_URL
    assert IMAGE_CHAT["messages"][0]["content"][1]["image_url"]["url"].startswith("https://")
    assert (stats.images, stats.images_changed, stats.image_bytes_in, stats.image_s) == (
        1, 1, 1234, 0.25)
    summary = stats.summary()
    assert "images=1 images_changed=1 image_bytes_in=1234 image_s=0.250 " in summary
    assert "image_sizes=4000x3000>112x84 image_cache_hits=1 " in summary
    assert images.grids == [PixelGrid("Qwen2-VL", 3136, 12544, 28)]
    assert PREPARED_URL not in summary


async def test_a_text_request_skips_the_image_pipeline():
    client = FakeClient(response=RESPONSE)
    pipeline, images, _ = make(client, vision=True)
    stats = RequestStats()
    assert await pipeline.call(chat_request(CHAT), stats) == RESPONSE
    assert images.prepared == [] and stats.images == 0
    (sent,) = client.requests
    assert sent.body["messages"] == CHAT["messages"]


async def test_a_call_returns_the_response_and_fills_the_stats():
    pipeline, _, _ = make(FakeClient(response=RESPONSE))
    stats = RequestStats()
    assert await pipeline.call(chat_request(CHAT), stats) == RESPONSE
    assert stats.tokens == 2 and stats.ttft_s is not None and stats.chunks == 0


async def test_a_stream_yields_its_batches_and_fills_the_stats():
    batches = [[chunk("a")], [chunk("b"), chunk("c")], [USAGE, DONE]]
    client = FakeClient(batches=batches)
    pipeline, _, _ = make(client)
    stats = RequestStats()
    assert stats.ttft_s is None
    got: list[list[bytes]] = []
    await collect(pipeline, chat_request(CHAT, stream=True), stats, got)
    assert got == batches
    assert (stats.chunks, stats.tokens) == (5, 3)
    assert stats.ttft_s is not None and stats.ttft_s >= 0
    assert "chunks=5 tokens=3" in stats.summary() and client.stream_closed


async def test_an_engine_error_mid_stream_comes_after_the_events_before_it():
    client = FakeClient(batches=[[chunk("a"), chunk("b")], [chunk("c"), ENGINE_ERROR,
                                                            chunk("never")]])
    pipeline, _, _ = make(client)
    stats = RequestStats()
    got: list[list[bytes]] = []
    with pytest.raises(EngineRequestError) as info:
        await collect(pipeline, chat_request(CHAT, stream=True), stats, got)
    assert got == [[chunk("a"), chunk("b")], [chunk("c")]]
    assert (info.value.message, info.value.status) == ("bad things happened", 400)
    assert stats.chunks == 3 and client.stream_closed


async def test_closing_the_events_early_closes_the_engine_stream():
    client = FakeClient(batches=[[chunk("a")], [chunk("b")]])
    pipeline, _, _ = make(client)
    events = pipeline.events(chat_request(CHAT, stream=True), RequestStats())
    assert await anext(events) == [chunk("a")]
    await events.aclose()
    assert client.stream_closed


async def test_an_engine_that_dies_mid_stream_says_so():
    engine = FakeEngine()
    client = FakeClient(batches=[[chunk("a")]], fail=EngineUnavailable(CUT),
                        before_fail=engine.die)
    pipeline, _, _ = make(client, engine=engine)
    with pytest.raises(EngineUnavailable) as info:
        await collect(pipeline, chat_request(CHAT, stream=True), RequestStats(), [])
    assert (info.value.message, info.value.status) == (ENGINE_DIED, 503)


async def test_a_death_seen_just_after_the_connection_drops_still_says_so():
    # The kernel closes the engine's sockets a moment before its exit can be seen.
    engine = FakeEngine()
    loop = asyncio.get_running_loop()
    client = FakeClient(response=RESPONSE, fail=EngineUnavailable(CUT),
                        before_fail=lambda: loop.call_later(0.03, engine.die))
    pipeline, _, _ = make(client, engine=engine, settle_s=5)
    with pytest.raises(EngineUnavailable) as info:
        await pipeline.call(chat_request(CHAT), RequestStats())
    assert info.value.message == ENGINE_DIED


async def test_an_engine_failure_while_it_keeps_running_is_passed_on():
    client = FakeClient(response=RESPONSE, fail=EngineUnavailable(CUT))
    pipeline, _, _ = make(client, settle_s=0.05)
    with pytest.raises(EngineUnavailable) as info:
        await pipeline.call(chat_request(CHAT), RequestStats())
    assert info.value.message == CUT


async def test_close_releases_the_client_and_the_images():
    client = FakeClient()
    pipeline, images, _ = make(client)
    await pipeline.close()
    assert client.closed and images.closed


# --- Worker: the job face --------------------------------------------------------------------

OPENAI_STREAM_JOB = {"openai_route": "/v1/chat/completions",
                     "openai_input": {**CHAT, "stream": True}}


async def test_a_job_on_a_dead_engine_fails_with_the_503_wording_and_no_engine_call():
    client = FakeClient(response=RESPONSE)
    pipeline, _, _ = make(client, engine=FakeEngine(alive=False))
    (output,) = await run_job(Worker(pipeline), {"openai_route": "/v1/chat/completions",
                                                 "openai_input": CHAT})
    assert error_body(output) == {"message": ENGINE_STOPPED, "type": "server_error",
                                  "param": None, "code": 503}
    assert client.requests == []


async def test_a_job_with_images_for_a_text_only_model_fails_as_a_400():
    pipeline, _, _ = make(FakeClient(response=RESPONSE), vision=False)
    (output,) = await run_job(Worker(pipeline), {"openai_route": "/v1/chat/completions",
                                                 "openai_input": IMAGE_CHAT})
    assert error_body(output) == {
        "message": "Model tiny does not support vision (image or video) inputs",
        "type": "invalid_request_error", "param": None, "code": 400}


async def test_a_non_streaming_job_yields_exactly_the_response(caplog):
    pipeline, _, _ = make(FakeClient(response=RESPONSE))
    with caplog.at_level(logging.INFO, logger="sglang_worker.jobs.handler"):
        outputs = await run_job(Worker(pipeline), {"openai_route": "/v1/chat/completions",
                                                   "openai_input": CHAT})
    assert outputs == [RESPONSE]
    (line,) = [r.getMessage() for r in caplog.records if "outcome=" in r.getMessage()]
    assert line.startswith("job=test outcome=ok route=/v1/chat/completions stream=False "
                           "images=0 images_changed=0 image_bytes_in=0 ")
    assert "tokens=2" in line and "hello" not in line


async def test_an_openai_stream_yields_sse_text_then_the_engine_error_in_band_and_as_the_job():
    batches = [[chunk("a"), chunk("b")], [chunk("c"), ENGINE_ERROR]]
    pipeline, _, _ = make(FakeClient(batches=batches))
    outputs = await run_job(Worker(pipeline), OPENAI_STREAM_JOB)
    error = EngineRequestError("bad things happened", status=400)
    assert outputs == [sse_text([chunk("a"), chunk("b")]), sse_text([chunk("c")]),
                       sse_error_event(error), job_error(error)]
    assert outputs[2] == ('data: {"error": {"message": "bad things happened", '
                          '"type": "invalid_request_error", "param": null, "code": 400}}\n\n')


async def test_a_native_stream_yields_chunk_objects_then_only_the_job_error():
    batches = [[chunk("a"), chunk("b")], [ENGINE_ERROR]]
    pipeline, _, _ = make(FakeClient(batches=batches))
    outputs = await run_job(Worker(pipeline), {**CHAT, "stream": True})
    assert outputs[:2] == [{"choices": [{"delta": {"content": "a"}}]},
                           {"choices": [{"delta": {"content": "b"}}]}]
    assert len(outputs) == 3
    assert error_body(outputs[2])["message"] == "bad things happened"


async def test_a_complete_openai_stream_ends_with_done_and_no_error():
    batches = [[chunk("a")], [USAGE, DONE]]
    pipeline, _, _ = make(FakeClient(batches=batches))
    outputs = await run_job(Worker(pipeline), OPENAI_STREAM_JOB)
    assert outputs == [sse_text(batch) for batch in batches]
    assert outputs[-1].endswith("data: [DONE]\n\n")


async def test_an_unexpected_exception_is_an_internal_error_with_no_details(caplog):
    client = FakeClient(response=RESPONSE, fail=RuntimeError("secret internals"))
    pipeline, _, _ = make(client)
    with caplog.at_level(logging.INFO, logger="sglang_worker.jobs.handler"):
        outputs = await run_job(Worker(pipeline), {"openai_route": "/v1/chat/completions",
                                                   "openai_input": CHAT})
    assert outputs == [job_error(WorkerError("internal error in the worker; see the worker "
                                             "logs"))]
    assert error_body(outputs[0])["code"] == 500
    assert "secret internals" not in json.dumps(outputs)
    traced = [r for r in caplog.records if r.exc_info]
    assert traced and "secret internals" in str(traced[0].exc_info[1])
    assert any("outcome=error:500" in r.getMessage() for r in caplog.records)


async def test_a_job_in_flight_when_the_engine_dies_gets_the_died_wording():
    engine = FakeEngine()
    client = FakeClient(batches=[[chunk("a")]], fail=EngineUnavailable(CUT),
                        before_fail=engine.die)
    pipeline, _, _ = make(client, engine=engine)
    outputs = await run_job(Worker(pipeline), OPENAI_STREAM_JOB)
    died = EngineUnavailable(ENGINE_DIED)
    assert outputs == [sse_text([chunk("a")]), sse_error_event(died), job_error(died)]
    assert error_body(outputs[-1]) == {"message": ENGINE_DIED, "type": "server_error",
                                       "param": None, "code": 503}
