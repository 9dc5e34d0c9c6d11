"""Every image, video and audio part of a request body made safe: the route's API module and
the media pipelines, joined.

Contract: ``prepare_media(pipeline, kind, route, body, sizing)`` returns the body with each
part of medium ``kind`` that the route's API module finds (``apis``) replaced around the data
URL the medium's pipeline prepared for it (``images.ImagePipeline`` with a ``PixelGrid``,
``video.pipeline.VideoPipeline`` with ``VideoRules``, ``audio.pipeline.AudioPipeline`` with
``AudioRules``), and the pipeline's report. A route without such parts (or without an API
module, a read route) returns the body as it came, and the pipeline's empty report. One bad
part fails the request with the medium's ``MediaPartError`` that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from sglang_worker.apis import api_for
from sglang_worker.apis.base import MediaKind
from sglang_worker.images import Location

R = TypeVar("R", covariant=True)


class MediaPipeline(Protocol[R]):
    async def prepare(self, parts: list[Any], sizing: Any, /
                      ) -> tuple[Mapping[Location, str], R]: ...


async def prepare_media(pipeline: MediaPipeline[R], kind: MediaKind, route: str,
                        body: dict[str, Any], sizing: Any) -> tuple[dict[str, Any], R]:
    api = api_for(route)
    parts = api.parts(kind, body) if api is not None else []
    urls, report = await pipeline.prepare(parts, sizing)
    return (api.with_prepared(kind, body, urls) if api is not None else body), report
