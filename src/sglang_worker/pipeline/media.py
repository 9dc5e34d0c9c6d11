"""Every image of a request body made safe: the route's API module and the image pipeline,
joined.

Contract: ``prepare_images(images, route, body, grid)`` returns the body with each image part
the route's API module finds (``apis``) replaced by the data URL ``images.ImagePipeline``
prepared for it, and the ``ImageReport``; a route without images (or without an API module, a
read route) returns the body as it came. One bad image fails the request with the
``ImageError`` that names its part.
"""

from __future__ import annotations

from typing import Any

from sglang_worker.apis import api_for
from sglang_worker.images import ImagePipeline, ImageReport, PixelGrid


async def prepare_images(images: ImagePipeline, route: str, body: dict[str, Any],
                         grid: PixelGrid | None = None) -> tuple[dict[str, Any], ImageReport]:
    api = api_for(route)
    if api is None:
        return body, ImageReport()
    urls, report = await images.prepare(api.images(body), grid)
    return api.with_images(body, urls), report
