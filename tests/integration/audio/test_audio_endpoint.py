"""Audio through the local RunPod endpoint: its OpenAI route, a ``/runsync`` job, and
``test_image_support.py``'s audio cases. The endpoint runs as its own process with its own
SGLang server serving the tiny Qwen2-Audio, started for this module and stopped after it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.support import audio_corpus as corpus
from tests.support.local_endpoint import LocalEndpoint, running_local_endpoint
from tests.support.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration
INLINE = corpus.face_part()


@pytest.fixture(scope="module")
def audio_endpoint(tiny_audio_model: Path, tmp_path_factory) -> LocalEndpoint:
    log_path = tmp_path_factory.mktemp("audio-endpoint") / "endpoint.log"
    with running_local_endpoint(tiny_audio_model, log_path) as endpoint:
        yield endpoint


async def test_endpoint_openai_route_and_runsync(audio_endpoint, tiny_audio_model):
    async with openai.AsyncOpenAI(base_url=audio_endpoint.openai_base_url, api_key="local",
                                  max_retries=0, timeout=120) as client:
        answer = await client.chat.completions.create(
            model=str(tiny_audio_model), max_tokens=2, messages=corpus.messages(INLINE))
    assert answer.usage.prompt_tokens_details.audio_tokens == corpus.FACE_TOKENS
    job = {"input": {"openai_route": "/v1/chat/completions",
                     "openai_input": {"messages": corpus.messages(INLINE), "max_tokens": 2}}}
    async with aiohttp.ClientSession() as http, http.post(f"{audio_endpoint.url}/runsync",
                                                          json=job) as response:
        done = await response.json()
    assert done["status"] == "COMPLETED", done
    assert done["output"][0]["usage"]["prompt_tokens_details"]["audio_tokens"] == corpus.FACE_TOKENS


def test_image_support_script_passes_the_audio_cases(audio_endpoint):
    done = subprocess.run(
        [sys.executable, "test_image_support.py", "--base-url", audio_endpoint.url],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    for case in ("audio as base64 (input_audio)", "streaming, audio as a data URL",
                 "error: a PNG sent as WAV audio", "models.list()",
                 "error: over the size limit", "score: label-token probabilities (/v1/score)"):
        assert re.search(rf"^{re.escape(case)} +pass ", done.stdout, re.M), done.stdout
    # The image and video cases are skipped, with the reason: the model takes no images.
    assert re.search(r"^image as base64 +skipped .*takes no images or video", done.stdout,
                     re.M), done.stdout
    assert "6 of 18 cases passed" in done.stdout, done.stdout
