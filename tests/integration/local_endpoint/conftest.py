"""ONE local endpoint per test session, started as ``make serve`` starts it: its own worker
process (``python handler.py``, the RunPod SDK's real job loop) and that worker's own SGLang
server, serving the tiny Qwen2-VL. It is package-scoped: created once, for the first test of
this directory, and stopped after its last one, because an idle SGLang CPU scheduler keeps one
core busy and the rest of the suite needs it.

The engine's port is chosen here and handed down through ``ENGINE_PORT`` (a worker setting), so
tests can read SGLang's live load at ``<engine>/v1/loads`` without any debug route. If the
endpoint cannot start, every test here fails with its output; nothing skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.local_endpoint import LocalEndpoint, running_local_endpoint


@pytest.fixture(scope="package")
def local_endpoint(tiny_vl_model: Path, tmp_path_factory) -> LocalEndpoint:
    log_path = tmp_path_factory.mktemp("local-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_vl_model, log_path) as endpoint:
        yield endpoint
