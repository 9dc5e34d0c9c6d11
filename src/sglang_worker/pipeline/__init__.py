"""The transport-neutral pipeline: request validation by each route's API module
(``request``), every image of a body made safe (``media``), the runner that calls or streams
the engine (``runner``), model lookups answered from SGLang's list (``models``), and the
stream's pure helpers (``stream``). Entry points: ``build_request``, ``Pipeline`` and
``make_pipeline``."""

from sglang_worker.pipeline.request import build_request
from sglang_worker.pipeline.runner import Pipeline, RequestStats, make_pipeline

__all__ = ["Pipeline", "RequestStats", "build_request", "make_pipeline"]
