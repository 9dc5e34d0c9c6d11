"""The transport-neutral pipeline: request validation (``request``), which content each API
may carry (``media``), the runner that makes images safe and calls or streams the engine
(``runner``), and the stream's pure helpers (``stream``). Entry points: ``build_request`` and
``Pipeline``."""

from sglang_worker.pipeline.request import build_request
from sglang_worker.pipeline.runner import Pipeline, RequestStats

__all__ = ["Pipeline", "RequestStats", "build_request"]
