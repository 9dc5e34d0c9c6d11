"""Hypothesis profiles: ``ci`` (the default: short and derandomized, so a CI run is
reproducible) and ``long`` (``make fuzz``: 20,000 random examples per property).

Pillow's decompression-bomb limit is process-wide and set once where the worker process starts
(``images.limit_pillow_pixels`` in ``main``); the test process sets it the same way, to the
default MAX_IMAGE_PIXELS, so no image test depends on which test ran before it."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from PIL import Image

from sglang_worker.images import limit_pillow_pixels
from sglang_worker.settings import Settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def pillow_pixel_limit() -> Iterator[None]:
    before = Image.MAX_IMAGE_PIXELS
    limit_pillow_pixels(Settings.model_fields["max_image_pixels"].default)
    yield
    Image.MAX_IMAGE_PIXELS = before
