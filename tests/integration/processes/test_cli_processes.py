"""``python handler.py --test_input ...`` as users run it: its own process, its own SGLang
server, no variables set. The local run prints the job's real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sglang_worker.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


def test_handler_cli_runs_the_base64_image_test_input_end_to_end():
    done = subprocess.run(
        [sys.executable, "handler.py", "--test_input", "test_input_with_base64_images.json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    response = json.loads(done.stdout)["output"][0]
    assert response["object"] == "chat.completion"
    assert response["usage"]["prompt_tokens_details"]["image_tokens"] > 0
    assert "job=local_test outcome=ok" in done.stderr


def test_bad_test_input_is_a_usage_error_before_any_engine_starts():
    done = subprocess.run([sys.executable, "handler.py", "--test_input", '{"input": '],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--test_input is not valid JSON" in done.stderr
    assert "starting SGLang" not in done.stderr


def test_a_bad_sglang_setting_stops_the_worker_at_start_naming_the_variable():
    env = {**os.environ, "CONTEXT_LENGTH": "lots"}
    done = subprocess.run([sys.executable, "handler.py", "--test_input", "test_input.json"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert ("cannot start the engine: invalid SGLang server setting: CONTEXT_LENGTH: argument "
            "--context-length:") in done.stderr
    assert "'lots'" in done.stderr
