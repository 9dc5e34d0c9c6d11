"""The retrieval models served as a user deploys them: the tiny Qwen2-VL with a multimodal
reranker chat template (generation mode; SGLang's Qwen3-VL reranker path), and a tiny Qwen2
sequence classifier served with ``SGLANG_ARGS=--is-embedding`` (``/v1/classify``, and the
cross-encoder path of ``/v1/rerank``). The image guard is as deployed (no private-address
opt-in), so a loopback listener can witness that nothing is fetched. Each face of each model
starts its own worker and engine, module-scoped, so only one of them runs at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import build_model
from tests.support.local_endpoint import LocalEndpoint
from tests.support.retrieval_cases import post

GUARDED = {"IMAGE_ALLOW_PRIVATE_URLS": "false"}
CLASSIFIER_ENV = {"SGLANG_ARGS": "--is-embedding", **GUARDED}


@pytest.fixture(scope="session")
def tiny_reranker_model() -> Path:
    return build_model("tiny-qwen2-reranker", "--reranker")


@pytest.fixture(scope="session")
def tiny_classifier_model() -> Path:
    return build_model("tiny-qwen2-classifier", "--classifier")


async def runsync(endpoint: LocalEndpoint, route: str, body: dict[str, Any]) -> dict[str, Any]:
    """A job run through the local endpoint's ``/runsync``, as RunPod's OpenAI route builds it."""
    status, job = await post(f"{endpoint.url}/runsync",
                             {"input": {"openai_route": route, "openai_input": body}})
    assert status == 200, job
    return job
