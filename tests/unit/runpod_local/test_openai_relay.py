"""The OpenAI face of a job: job input, SSE bytes, and error answers (pure)."""

import json

import pytest

from runpod_local.jobs import JobStore
from runpod_local.openai_relay import (
    error_from_job_error,
    error_shape_of,
    openai_answer,
    openai_job_input,
    stream_epilogue,
)
from sglang_worker.errors import (
    ImageError,
    InvalidRequest,
    RouteNotAllowed,
    WorkerError,
    anthropic_error_body,
    openai_error_body,
    sglang_error_body,
    sse_error_event,
)
from sglang_worker.http.responses import sse_bytes


def finished(result=None, streamed=(), cancel=False):
    store = JobStore()
    job = store.submit("x", now=0, retention_s=1)
    store.take(1, now=0, worker_id="w")
    for output in streamed:
        store.record_stream(job.id, output)
    if cancel:
        store.cancel(job.id, now=1)
    else:
        store.finish(job.id, result, now=1)
    return job


def test_job_input_is_what_runpod_builds():
    body = {"messages": [], "stream": True}
    assert openai_job_input("/v1/chat/completions", "POST", body) == {
        "openai_route": "/v1/chat/completions", "openai_input": body}
    assert openai_job_input("/v1/models", "GET", None) == {"openai_route": "/v1/models"}


def test_sse_text_goes_out_unchanged_and_other_values_are_framed():
    text = 'data: {"a": 1}\n\ndata: [DONE]\n\n'
    assert sse_bytes(text) == text.encode()
    assert sse_bytes({"b": "é"}) == 'data: {"b": "é"}\n\n'.encode()


@pytest.mark.parametrize("error, status, error_class", [
    (ImageError("image data is not valid base64", param="messages[0].content[1]"), 400,
     "invalid_request_error"),
    (RouteNotAllowed("route '/x' is not served"), 404, "not_found_error"),
    (WorkerError("the engine died", status=503), 503, "server_error"),
])
def test_the_worker_error_contract_becomes_the_http_status_and_body(error, status, error_class):
    got_status, body = error_from_job_error(error.to_job_error())
    assert got_status == status
    assert body == {"error": {"message": error.message, "type": error_class,
                              "param": error.param, "code": status}}


def test_errors_in_other_forms_become_500s_without_tracebacks():
    sdk_error = json.dumps({"error_type": "<class 'KeyError'>", "error_message": "'x'",
                            "error_traceback": "Traceback ..."})
    status, body = error_from_job_error(sdk_error)
    assert status == 500 and "KeyError" in body["error"]["message"]
    assert "Traceback" not in body["error"]["message"]
    status, body = error_from_job_error("handler: boom \ntraceback: File ...")
    assert (status, body["error"]["message"]) == (500, "handler: boom")
    assert error_from_job_error('{"error": {"message": "m", "code": 999}}')[0] == 500


def test_answer_of_a_completed_job_is_its_one_yield():
    job = finished({"output": [{"object": "chat.completion"}]})
    assert openai_answer(job) == (200, {"object": "chat.completion"})


def test_answer_of_failed_and_cancelled_jobs():
    job = finished({"error": ImageError("detected PDF").to_job_error()})
    assert openai_answer(job)[0] == 400
    status, body = openai_answer(finished(cancel=True))
    assert status == 409 and "cancelled" in body["error"]["message"]


def test_stream_epilogue():
    done = 'data: {"x": 1}\n\ndata: [DONE]\n\n'
    assert stream_epilogue(finished({"output": [done]}, streamed=[done])) == b""
    # The worker sent the error in-band before failing: nothing to add.
    in_band = sse_error_event(ImageError("bad"))
    failed = finished({"error": ImageError("bad").to_job_error()}, streamed=["data: {}\n\n",
                                                                           in_band])
    assert stream_epilogue(failed) == b""
    # Cut short by a cancel: an in-band error, never a [DONE].
    cut = stream_epilogue(finished(streamed=["data: {}\n\n"], cancel=True))
    assert cut.startswith(b'data: {"error"') and b"[DONE]" not in cut


def test_openai_error_body_types():
    assert openai_error_body(413, "too big")["error"]["type"] == "invalid_request_error"
    assert openai_error_body(504, "slow")["error"] == {
        "message": "slow", "type": "server_error", "param": None, "code": 504}


# --- Anthropic's Messages API routes ------------------------------------------------------
@pytest.mark.parametrize("route, shape", [
    ("/v1/messages", "anthropic"), ("/v1/messages/count_tokens", "anthropic"),
    ("/v1/%6Dessages/", "anthropic"), ("/v1/chat/completions", "openai"),
    ("/v1/responses", "openai"), ("/v1/rerank", "sglang"), ("/openai/v1/score/", "sglang"),
    ("/v1//messages", "openai"),  # refused by the worker: not an Anthropic route
])
def test_error_shapes_are_decided_on_the_canonical_route(route, shape):
    assert error_shape_of(route) == shape


@pytest.mark.parametrize("kind, status", [
    ("invalid_request_error", 400), ("not_found_error", 404), ("request_too_large", 413),
    ("overloaded_error", 503), ("api_error", 500), ("some_new_error", 500),
])
def test_an_anthropic_job_error_is_that_body_at_its_types_status(kind, status):
    body = {"type": "error", "error": {"type": kind, "message": "m"}}
    assert error_from_job_error(json.dumps(body), "anthropic") == (status, body)


def test_the_worker_errors_anthropic_form_keeps_its_status():
    error = ImageError("image data is not valid base64", param="messages[0].content[0].source")
    status, body = error_from_job_error(error.to_job_error("anthropic"), "anthropic")
    assert status == 400
    assert body == error.to_body("anthropic")


def test_openai_shaped_and_other_errors_take_anthropics_shape_on_its_routes():
    # The board's own errors (a timeout, the worker gone) are OpenAI-shaped.
    status, body = error_from_job_error(WorkerError("too slow", status=504).to_job_error(),
                                        "anthropic")
    assert (status, body) == (504, anthropic_error_body(504, "too slow"))
    status, body = error_from_job_error(ImageError("bad", param="p").to_job_error(),
                                        "anthropic")
    assert (status, body) == (400, anthropic_error_body(400, "p: bad"))
    status, body = error_from_job_error("handler: boom \ntraceback: File ...", "anthropic")
    assert (status, body) == (500, anthropic_error_body(500, "handler: boom"))
    sdk_error = json.dumps({"error_type": "<class 'KeyError'>", "error_message": "'x'"})
    status, body = error_from_job_error(sdk_error, "anthropic")
    assert status == 500 and body["type"] == "error" and "KeyError" in body["error"]["message"]


def test_an_anthropic_body_on_an_openai_route_is_not_trusted_for_its_status():
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "m"}}
    status, answer = error_from_job_error(json.dumps(body))
    assert status == 500 and answer["error"]["code"] == 500


def test_anthropic_answers_of_failed_and_cancelled_jobs():
    job = finished({"error": ImageError("detected PDF").to_job_error("anthropic")})
    assert openai_answer(job, "anthropic") == (400, anthropic_error_body(400, "detected PDF"))
    job = finished(cancel=True)
    assert openai_answer(job, "anthropic") == (
        409, anthropic_error_body(409, f"job {job.id} was cancelled"))
    completed = finished({"output": [{"type": "message"}]})
    assert openai_answer(completed, "anthropic") == (200, {"type": "message"})


def test_anthropic_stream_epilogue():
    start = 'event: message_start\ndata: {"type": "message_start"}\n\n'
    stop = 'event: message_stop\ndata: {"type": "message_stop"}\n\n'
    assert stream_epilogue(finished({"output": [stop]}, streamed=[start, stop]),
                           "anthropic") == b""
    # The worker sent Anthropic's error event before failing: nothing to add.
    in_band = sse_error_event(ImageError("bad"), "anthropic")
    failed = finished({"error": ImageError("bad").to_job_error("anthropic")},
                      streamed=[start, in_band])
    assert stream_epilogue(failed, "anthropic") == b""
    # An OpenAI-style error event is not Anthropic's: the epilogue still sends one.
    cut = finished(streamed=[start, 'data: {"error": {}}\n\n'], cancel=True)
    epilogue = stream_epilogue(cut, "anthropic")
    body = anthropic_error_body(409, f"job {cut.id} was cancelled")
    assert epilogue == f"event: error\ndata: {json.dumps(body)}\n\n".encode()
    assert b"[DONE]" not in epilogue
    # A timeout (the board's OpenAI-shaped 504) after the first event.
    timed_out = finished({"error": WorkerError("too slow", status=504).to_job_error()},
                         streamed=[start])
    event, data = stream_epilogue(timed_out, "anthropic").decode().split("\n", 1)
    assert event == "event: error"
    assert json.loads(data.removeprefix("data: ")) == anthropic_error_body(504, "too slow")


# --- SGLang's retrieval routes ------------------------------------------------------------------
def test_sglang_route_answers_keep_or_take_sglangs_top_level_shape():
    worker = finished({"error": InvalidRequest("items[0] is empty", param="items[0]")
                      .to_job_error("sglang")})
    assert openai_answer(worker, "sglang") == (400, sglang_error_body(
        400, "items[0] is empty", param="items[0]"))
    board = finished({"error": WorkerError("no worker took the job", status=503).to_job_error()})
    assert openai_answer(board, "sglang") == (503, sglang_error_body(503, "no worker took the job"))
    cancelled = finished(cancel=True)
    assert openai_answer(cancelled, "sglang") == (409, sglang_error_body(
        409, f"job {cancelled.id} was cancelled"))
