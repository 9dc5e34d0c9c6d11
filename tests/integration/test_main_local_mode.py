"""``main`` in local mode, on the session's SGLang server: the result printed, the exit code.

The command line itself, ``python handler.py --test_input ...`` in a process of its own, is
tested in ``processes/test_cli_processes.py``.
"""

from __future__ import annotations

import json

import pytest

from sglang_worker import main as main_module
from sglang_worker.jobs import local_run

pytestmark = pytest.mark.integration


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
    monkeypatch.setattr(local_run, "launch_engine",
                        lambda settings: (_SharedEngine(engine), engine_info))
    assert main_module.main(["--test_input", json.dumps({"input": job_input})]) == code
    result = json.loads(capsys.readouterr().out)
    if code:
        assert result["error"]["code"] == 400
        assert "maximum context length" in result["error"]["message"]
    else:
        assert result["output"][0]["object"] == "list"
