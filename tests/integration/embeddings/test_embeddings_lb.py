"""Issue 18 in load-balancing mode: the same embeddings, with images and hostile sources, and
``models.retrieve`` of the slashed served name, straight from the worker's HTTP face."""

from __future__ import annotations

import openai
import pytest

from tests.integration.embeddings.conftest import (
    EMBEDDING_ENV,
    SERVED,
    hostile_images,
    hostile_videos,
    png_data_url,
)
from tests.support import video_corpus as corpus
from tests.support.image_server import ConnectionCounter
from tests.support.lb_worker import running_lb_worker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lb(tiny_vl_model, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("lb-embed") / "worker.log"
    with running_lb_worker(tiny_vl_model, log_path, **EMBEDDING_ENV) as worker:
        yield worker


@pytest.fixture
async def oai(lb):
    async with lb.openai_client() as client:
        yield client


async def test_an_image_embedding_answers(oai):
    text = await oai.embeddings.create(model=SERVED, input=["a", "b"])
    image = await oai.embeddings.create(model=SERVED, input=[{"image": png_data_url()}])
    assert len(text.data) == 2 and len(image.data) == 1
    assert len(image.data[0].embedding) == len(text.data[0].embedding)


async def test_a_video_embedding_answers(oai):
    clip = corpus.data_url(corpus.make_clip(160, 96, 2, 10))
    text = await oai.embeddings.create(model=SERVED, input=[{"text": "a clip"}])
    video = await oai.embeddings.create(model=SERVED, input=[{"text": "a clip", "video": clip}])
    assert len(video.data[0].embedding) == len(text.data[0].embedding)
    assert video.data[0].embedding != text.data[0].embedding  # the clip reached the model
    assert video.usage.prompt_tokens > text.usage.prompt_tokens


async def test_hostile_sources_are_refused_with_zero_connections(oai):
    async with ConnectionCounter() as listener:
        for image in hostile_images(listener.port):
            with pytest.raises(openai.BadRequestError) as raised:
                await oai.embeddings.create(model=SERVED, input=[{"image": image}])
            assert raised.value.body["param"] == "input[0].image", (image, raised.value.body)
        for video in hostile_videos(listener.port):
            with pytest.raises(openai.BadRequestError) as raised:
                await oai.embeddings.create(model=SERVED, input=[{"text": "x", "video": video}])
            assert raised.value.body["param"] == "input[0].video"
        assert listener.connections == 0


async def test_models_retrieve_of_the_slashed_name(oai):
    assert (await oai.models.retrieve(SERVED)).id == SERVED
    with pytest.raises(openai.NotFoundError):
        await oai.models.retrieve("tiny-org")
