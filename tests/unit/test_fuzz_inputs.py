"""Fuzzing the pure front of the worker: job shapes and image parts, no engine needed.

Properties: parsing a job never raises anything but ``InvalidRequest``; preparing the images
of any chat, Responses or Messages body returns a body or raises ``ImageError`` naming the
part, within a deadline, without ever connecting anywhere.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sglang_worker.apis import api_for
from sglang_worker.audio.parts import FORMATS
from sglang_worker.errors import AudioError, ImageError, InvalidRequest
from sglang_worker.images import ImagePipeline
from sglang_worker.jobs.input import parse_job_input
from sglang_worker.pipeline.request import validate_body
from sglang_worker.routes import CHAT_ROUTE, GENERATE_ROUTE, INFERENCE_ROUTES, READ_ROUTES
from sglang_worker.settings import Settings
from tests.support.body_images import BodyImages
from tests.support.fuzz_strategies import (
    chat_body,
    embeddings_body,
    image_text,
    job_inputs,
    messages_body,
    rerank_body,
    responses_body,
)
from tests.support.image_server import guard_connections

pytestmark = pytest.mark.fuzz


@given(job_inputs)
def test_parsing_any_job_input_succeeds_or_refuses_clearly(job_input):
    try:
        request = parse_job_input(job_input, served_model="m")
    except InvalidRequest as error:
        assert error.message and 400 <= error.status < 500
        return
    # What was built is what the job asked for, consistently: a read is a body-less GET of an
    # allowed read route, an inference a POST whose stream flag is the body's, with the model.
    if request.method == "GET":
        assert request.body is None and not request.stream
        assert request.route in READ_ROUTES, request.route
    else:
        assert request.method == "POST" and isinstance(request.body, dict)
        assert request.route in INFERENCE_ROUTES, request.route
        assert request.stream == (request.body.get("stream") is True)
        assert request.route == GENERATE_ROUTE or request.body.get("model")


@pytest.fixture(scope="module")
async def pipeline():
    pipeline = BodyImages(ImagePipeline(Settings(image_allow_private_urls=False, image_workers=2)))
    yield pipeline
    await pipeline.close()


@pytest.fixture(scope="module")
async def attempts():
    """Every connection attempt during the module (none may happen); non-loopback refused."""
    patch = pytest.MonkeyPatch()
    yield guard_connections(patch)
    patch.undo()


@given(chat_body())
async def test_preparing_any_chat_body_returns_a_body_or_names_the_bad_part(
    pipeline, attempts, body
):
    try:
        prepared, report = await asyncio.wait_for(pipeline.prepare(CHAT_ROUTE, body), 30)
    except ImageError as error:
        assert error.param and error.param.startswith("messages[")
        assert error.message and "Traceback" not in error.message
    else:
        assert report.count == api_for(CHAT_ROUTE).count("image", body)
        assert all(part.source.startswith("data:image/")
                   for part in api_for(CHAT_ROUTE).parts("image", prepared))
        assert report.changed <= report.count
    assert attempts == []


@given(chat_body())
def test_the_audio_parts_of_any_chat_body_are_read_or_refused_naming_the_part(body):
    api = api_for(CHAT_ROUTE)
    try:
        parts = api.parts("audio", body)
    except AudioError as error:
        assert error.param and error.param.startswith("messages[")
        assert error.message and "Traceback" not in error.message
    else:
        assert len(parts) == api.count("audio", body)
        assert all(part.format in (None, *FORMATS) for part in parts)


@given(image_text())
async def test_any_generate_image_data_is_prepared_or_refused(pipeline, image):
    body = {"text": "x", "image_data": [image, image]}
    try:
        prepared, report = await asyncio.wait_for(pipeline.prepare(GENERATE_ROUTE, body), 30)
    except ImageError as error:
        assert error.param in ("image_data[0]", "image_data[1]")
    else:
        assert prepared["image_data"][0].startswith("data:image/") and report.count == 2


@given(st.one_of(st.tuples(st.just("/v1/responses"), responses_body()),
                 st.tuples(st.just("/v1/messages"), messages_body()),
                 st.tuples(st.just("/v1/embeddings"), embeddings_body()),
                 st.tuples(st.just("/v1/rerank"), rerank_body())))
async def test_any_newer_api_body_is_prepared_or_refused_naming_the_part(
    pipeline, attempts, route_and_body
):
    """What passes validation goes through the image pipeline: every image comes out as a
    checked data URL (Responses, embeddings) or base64 source (Messages), or the error names
    its part; nothing ever connects."""
    route, body = route_and_body
    try:
        body = validate_body(route, body, served_model="m")
        prepared, report = await asyncio.wait_for(pipeline.prepare(route, body), 30)
    except InvalidRequest as error:
        assert error.status == 400 and "Traceback" not in error.message
        if isinstance(error, ImageError):
            assert error.param and error.param.startswith(("input[", "messages[", "query",
                                                           "documents["))
    else:
        assert report.count == api_for(route).count("image", body)
        parts = api_for(route).parts("image", prepared)
        if route != "/v1/messages":
            assert all(part.source.startswith("data:image/") for part in parts)
        else:
            assert all(not part.source.startswith(("http", "data:")) for part in parts)
    assert attempts == []
