"""What users run against the local endpoint: ``test_image_support.py`` and the README's OpenAI
SDK snippet, each exactly as shipped apart from the base URL."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from PIL import Image

from tests.support.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration

README_BASE_URL = "http://127.0.0.1:8000/openai/v1"


def readme_snippet() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- openai-snippet:start -->\s*```python\n(.*?)```\s*"
                      r"<!-- openai-snippet:end -->", readme, re.S)
    assert found, "the README's OpenAI snippet markers are missing"
    return found.group(1)


def test_image_support_script_passes_every_case(local_endpoint):
    done = subprocess.run(
        [sys.executable, "test_image_support.py", "--base-url", local_endpoint.url],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # The three audio cases are skipped, with the reason: the tiny Qwen2-VL takes no audio.
    assert re.search(r"^audio as base64 \(input_audio\) +skipped .*takes no audio",
                     done.stdout, re.M), done.stdout
    assert "15 of 18 cases passed; skipped: audio as base64 (input_audio), streaming, audio as " \
        "a data URL, error: a PNG sent as WAV audio" in done.stdout, done.stdout
    for case in ("image by URL", "image as base64", "several images in one message",
                 "streaming, image as base64", "error: corrupt base64",
                 "error: unsupported format (PDF)", "error: over the size limit",
                 "Responses API, image as base64", "Anthropic Messages API, image as base64",
                 "score: label-token probabilities (/v1/score)"):
        assert re.search(rf"^{re.escape(case)} +pass ", done.stdout, re.M), done.stdout


def test_the_readme_snippet_runs_unchanged_but_for_the_base_url(local_endpoint, tmp_path):
    snippet = readme_snippet()
    assert snippet.count(README_BASE_URL) == 1
    (tmp_path / "snippet.py").write_text(
        snippet.replace(README_BASE_URL, local_endpoint.openai_base_url), encoding="utf-8")
    Image.linear_gradient("L").resize((160, 120)).convert("RGB").save(tmp_path / "photo.jpg")
    streamed_image_jobs = re.compile(
        r"outcome=ok route=/v1/chat/completions stream=True images=1 .* chunks=(\d+)")
    before = len(streamed_image_jobs.findall(local_endpoint.log()))
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # What the snippet prints is whatever the random tiny model sampled, which may be nothing
    # (an end-of-sequence token first); the worker's log says what ran: a streamed image job.
    assert done.stdout.endswith("\n")
    local_endpoint.wait_until(  # the log line may land just after the client's last byte
        lambda: len(streamed_image_jobs.findall(local_endpoint.log())) > before, 15,
        "the worker to log the snippet's job")
    chunks = streamed_image_jobs.findall(local_endpoint.log())[before:]
    assert len(chunks) == 1 and int(chunks[0]) >= 2, local_endpoint.log()[-3000:]
