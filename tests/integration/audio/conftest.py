"""The audio model's servers: ONE real SGLang CPU server for this package, serving the tiny
Qwen2-Audio that ``builder/`` makes, started through the worker's own ``launch_engine``, and the
job-face worker wired to it. Package-scoped, like the load-balancing and local-endpoint
servers: started for the first test here and stopped after the last, so the idle scheduler's
busy core is not taken from the rest of the suite. If it cannot start, every test here errors;
nothing skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sglang_worker.engine.server import Engine, EngineInfo, launch_engine
from sglang_worker.jobs import make_worker
from sglang_worker.jobs.handler import Worker
from sglang_worker.settings import Settings


@pytest.fixture(scope="package")
def audio_dir(tmp_path_factory) -> Path:
    """The only directory local audio paths may come from (AUDIO_LOCAL_DIR)."""
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="package")
def audio_settings(tiny_audio_model: Path, audio_dir: Path) -> Settings:
    return Settings(model_name=str(tiny_audio_model), audio_local_dir=audio_dir)


@pytest.fixture(scope="package")
def audio_engine(audio_settings: Settings) -> Engine:
    engine, info = launch_engine(audio_settings)
    engine.test_info = info  # type: ignore[attr-defined]
    yield engine
    engine.stop()


@pytest.fixture(scope="package")
def audio_info(audio_engine: Engine) -> EngineInfo:
    return audio_engine.test_info  # type: ignore[attr-defined]


@pytest.fixture(scope="package")
async def audio_worker(audio_settings: Settings, audio_engine: Engine,
                       audio_info: EngineInfo) -> Worker:
    worker = make_worker(audio_settings, audio_info, audio_engine)
    yield worker
    await worker.close()
