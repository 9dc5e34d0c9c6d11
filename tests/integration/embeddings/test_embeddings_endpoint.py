"""Issue 18 through the local endpoint (``make serve``): embeddings with images by data URL
answer through the OpenAI SDK and as RunPod jobs; hostile image and video sources in
``input[].image`` / ``input[].video`` are refused naming the part, with zero connections;
``models.retrieve`` answers for the slashed served name."""

from __future__ import annotations

import aiohttp
import openai
import pytest

from tests.integration.embeddings.conftest import (
    EMBEDDING_ENV,
    SERVED,
    hostile_images,
    hostile_videos,
    png_data_url,
)
from tests.support.image_server import ConnectionCounter
from tests.support.local_endpoint import running_local_endpoint

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def endpoint(tiny_vl_model, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("embedding-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_vl_model, log_path, **EMBEDDING_ENV) as endpoint:
        yield endpoint


@pytest.fixture
async def oai(endpoint):
    async with openai.AsyncOpenAI(base_url=endpoint.openai_base_url, api_key="local",
                                  max_retries=0, timeout=120) as client:
        yield client


async def runsync(endpoint, job_input: dict) -> dict:
    async with aiohttp.ClientSession() as http, http.post(
            f"{endpoint.url}/runsync", json={"input": job_input}) as response:
        return await response.json()


async def test_text_and_image_embeddings_answer_and_the_image_counts(oai):
    text = await oai.embeddings.create(model=SERVED, input="a small picture")
    with_image = await oai.embeddings.create(
        model=SERVED, input=[{"text": "a small picture", "image": png_data_url()}])
    assert len(text.data) == len(with_image.data) == 1
    assert len(text.data[0].embedding) == len(with_image.data[0].embedding) > 0
    assert text.data[0].embedding != with_image.data[0].embedding  # the image reached the model
    assert with_image.usage.prompt_tokens > text.usage.prompt_tokens


async def test_hostile_sources_are_refused_through_the_openai_route(oai):
    async with ConnectionCounter() as listener:
        for image in hostile_images(listener.port):
            with pytest.raises(openai.BadRequestError) as raised:
                await oai.embeddings.create(model=SERVED, input=[{"text": "x", "image": image}])
            assert raised.value.body["param"] == "input[0].image", (image, raised.value.body)
            assert "Could not decode" not in raised.value.body["message"]
        for video in hostile_videos(listener.port):
            with pytest.raises(openai.BadRequestError) as raised:
                await oai.embeddings.create(model=SERVED, input=[{"text": "x"},
                                                                 {"video": video}])
            assert raised.value.body["param"] == "input[1].video"
        assert listener.connections == 0


async def test_embeddings_as_jobs_and_hostile_jobs_refused(endpoint):
    ok = await runsync(endpoint, {"openai_route": "/v1/embeddings", "openai_input": {
        "input": [{"text": "x", "image": png_data_url((40, 200))}]}})
    assert ok["status"] == "COMPLETED", ok
    assert ok["output"][0]["object"] == "list" and ok["output"][0]["data"][0]["embedding"]
    async with ConnectionCounter() as listener:
        for image in hostile_images(listener.port):
            failed = await runsync(endpoint, {"openai_route": "/v1/embeddings",
                                              "openai_input": {"input": [{"image": image}]}})
            assert failed["status"] == "FAILED" and '"param": "input[0].image"' in \
                failed["error"], (image, failed)
        assert listener.connections == 0


async def test_models_retrieve_answers_for_the_slashed_name_as_the_sdk_sends_it(oai, endpoint):
    model = await oai.models.retrieve(SERVED)  # GET /v1/models/tiny-org%2Fqwen2-vl-embed
    assert (model.id, model.object) == (SERVED, "model")
    job = await runsync(endpoint, {"openai_route": "/v1/models/tiny-org%2Fqwen2-vl-embed"})
    assert job["status"] == "COMPLETED" and job["output"][0]["id"] == SERVED
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        await oai.models.retrieve("tiny-org/another")
