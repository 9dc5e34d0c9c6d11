"""The OpenAI face of a job: job input, SSE bytes, and error answers (pure)."""

import json

import pytest

from runpod_local.jobs import JobStore
from runpod_local.openai_relay import (
    error_from_job_error,
    openai_answer,
    openai_job_input,
    stream_epilogue,
)
from sglang_worker.errors import (
    ImageError,
    RouteNotAllowed,
    WorkerError,
    openai_error_body,
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
