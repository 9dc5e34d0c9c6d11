"""Every image and video of a request body made safe: the route's API module and the media
pipelines, joined.

Contract: ``prepare_images(images, route, body, grid)`` returns the body with each image part
the route's API module finds (``apis``) replaced by the data URL ``images.ImagePipeline``
prepared for it, and the ``ImageReport``; ``prepare_videos(videos, route, body, rules)`` does the
same for video parts with ``video.VideoPipeline``'s clips and a ``VideoReport``. A route without
such parts (or without an API module, a read route) returns the body as it came. One bad part
fails the request with the ``ImageError`` or ``VideoError`` that names it.
"""

from __future__ import annotations

from typing import Any

from sglang_worker.apis import api_for
from sglang_worker.images import ImagePipeline, ImageReport, PixelGrid
from sglang_worker.video.pipeline import VideoPipeline, VideoReport
from sglang_worker.video.sampling import VideoRules


async def prepare_images(images: ImagePipeline, route: str, body: dict[str, Any],
                         grid: PixelGrid | None = None) -> tuple[dict[str, Any], ImageReport]:
    api = api_for(route)
    if api is None:
        return body, ImageReport()
    urls, report = await images.prepare(api.images(body), grid)
    return api.with_images(body, urls), report


async def prepare_videos(videos: VideoPipeline, route: str, body: dict[str, Any],
                         rules: VideoRules) -> tuple[dict[str, Any], VideoReport]:
    api = api_for(route)
    if api is None:
        return body, VideoReport()
    urls, report = await videos.prepare(api.videos(body), rules)
    return api.with_videos(body, urls), report
