"""``python handler.py --test_input ...``: the local run prints the job's real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sglang_worker import main as main_module
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


class _SharedEngine:
    """The session's engine, handed to ``main`` without letting it stop the engine."""

    def __init__(self, engine):
        self._engine = engine

    @property
    def alive(self) -> bool:
        return self._engine.alive

    def stop(self) -> None:
        pass


@pytest.mark.parametrize("job_input, code", [
    ({"openai_route": "/v1/models"}, 0),
    ({"openai_route": "/v1/chat/completions", "openai_input": {
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}}, 1),
])
def test_main_prints_the_result_and_exits_1_when_the_job_failed(
    engine, engine_info, monkeypatch, capsys, job_input, code
):
    monkeypatch.setattr(main_module, "launch_engine",
                        lambda settings: (_SharedEngine(engine), engine_info))
    assert main_module.main(["--test_input", json.dumps({"input": job_input})]) == code
    result = json.loads(capsys.readouterr().out)
    if code:
        assert result["error"]["code"] == 400
        assert "maximum context length" in result["error"]["message"]
    else:
        assert result["output"][0]["object"] == "list"


def test_a_bad_sglang_setting_stops_the_worker_at_start_naming_the_variable():
    env = {**os.environ, "CONTEXT_LENGTH": "lots"}
    done = subprocess.run([sys.executable, "handler.py", "--test_input", "test_input.json"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert ("cannot start the engine: invalid SGLang server setting: CONTEXT_LENGTH: argument "
            "--context-length:") in done.stderr
    assert "'lots'" in done.stderr
