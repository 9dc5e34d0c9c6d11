"""One real SGLang CPU server per test session, and workers wired to it.

The server is started through the worker's own ``launch_engine`` (the code path of
``python handler.py``), serving the tiny Qwen2-VL that ``builder/`` makes. If it cannot start,
every integration test errors: nothing here skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sglang_worker.engine.server import Engine, EngineInfo, launch_engine
from sglang_worker.jobs import make_worker
from sglang_worker.jobs.handler import Worker
from sglang_worker.settings import Settings
from tests.support.paths import PROJECT_ROOT

MODELS = PROJECT_ROOT / ".cache" / "models"
# A hub-style name with a slash, as deployed models have, so /v1/models/{id} is exercised.
SERVED_MODEL_NAME = "tiny-org/qwen2-vl"


def build_model(name: str, *extra: str) -> Path:
    out = MODELS / name
    subprocess.run([sys.executable, "-m", "tiny_models.build",
                    "--out", str(out), *extra], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def tiny_vl_model() -> Path:
    return build_model("tiny-qwen2-vl")


@pytest.fixture(scope="session")
def tiny_text_model() -> Path:
    return build_model("tiny-qwen2-text", "--text-only")


@pytest.fixture(scope="session")
def tiny_audio_model() -> Path:
    return build_model("tiny-qwen2-audio", "--audio")


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    """The only directory local image paths may come from (IMAGE_LOCAL_DIR)."""
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def settings(tiny_vl_model: Path, image_dir: Path) -> Settings:
    # Loopback image URLs are served by the tests, so the private-address opt-in is on here.
    # TIFF is allowed too, so its way through the engine is tested (it is off by default).
    return Settings(model_name=str(tiny_vl_model), image_allow_private_urls=True,
                    image_allow_tiff=True,
                    image_local_dir=image_dir)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SERVED_MODEL_NAME", SERVED_MODEL_NAME)
        engine, info = launch_engine(settings)
    engine.test_info = info  # type: ignore[attr-defined]
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def engine_info(engine: Engine) -> EngineInfo:
    return engine.test_info  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
async def worker(settings: Settings, engine: Engine, engine_info: EngineInfo) -> Worker:
    worker = make_worker(settings, engine_info, engine)
    yield worker
    await worker.close()
