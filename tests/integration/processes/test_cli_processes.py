"""``python handler.py --test_input ...`` as users run it: its own process, its own SGLang
server, no variables set. The local run prints the job's real output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT

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
    # A quiet run: the engine's output in a file whose path is logged, a few lines to read.
    assert "[sglang]" not in done.stderr
    engine_log = Path(re.search(r"its output goes to (\S+)", done.stderr).group(1))
    assert "sglang.launch_server" in engine_log.read_text()
    assert re.search(r"SGLang ready in [\d.]+ s", done.stderr)
    assert "answer: " in done.stderr
    assert re.search(r"image tokens: [1-9]\d* of \d+ prompt tokens", done.stderr)
    assert len(done.stderr.splitlines()) < 30, done.stderr


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
    # A local run exits at once (no hold), showing the engine's whole output.
    assert "--- the engine's output (" in done.stderr
    assert "START_FAILURE_HOLD_S" not in done.stderr and "a restart will not fix" not in \
        done.stderr
