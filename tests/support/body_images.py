"""An ``ImagePipeline`` that takes whole request bodies (``pipeline.media.prepare_media``), so
that the image tests read as a request goes through."""

from __future__ import annotations

from typing import Any

from sglang_worker.images import ImagePipeline, ImageReport, PixelGrid
from sglang_worker.pipeline.media import prepare_media


class BodyImages:
    def __init__(self, pipeline: ImagePipeline) -> None:
        self.pipeline = pipeline

    async def prepare(self, route: str, body: dict[str, Any], grid: PixelGrid | None = None
                      ) -> tuple[dict[str, Any], ImageReport]:
        return await prepare_media(self.pipeline, "image", route, body, grid)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)
