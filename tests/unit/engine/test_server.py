"""Engine supervision with stand-in processes: start-up failures, death watch, stop, ports."""

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from sglang_worker.engine.server import Engine, engine_port
from sglang_worker.errors import EngineConfigError, EngineStartError
from sglang_worker.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(code: str, port: int | None = None) -> Engine:
    """``code`` run as the engine; on ``port``, or on one where nothing listens (so /health
    never answers)."""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    return Engine(process, port or free_port(), Settings(engine_shutdown_timeout_s=2))


# A stand-in SGLang server: /health answers 200 and every other route what ANSWERS maps it to,
# (status, body text), or 404.
STAND_IN_SERVER = textwrap.dedent("""
    import http.server, json, sys
    ANSWERS = json.loads(sys.argv[2])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, text = (200, "") if self.path == "/health" else ANSWERS.get(self.path,
                                                                                (404, ""))
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
""")


def start_stand_in(answers: dict[str, tuple[int, str]]) -> Engine:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", STAND_IN_SERVER, str(port), json.dumps(answers)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    engine = Engine(process, port, Settings(engine_shutdown_timeout_s=2))
    engine.wait_ready(30)
    return engine


def test_an_engine_that_exits_during_start_up_reports_its_last_output():
    engine = start("print('loading weights'); print('CUDA out of memory'); raise SystemExit(3)")
    with pytest.raises(EngineStartError) as info:
        engine.wait_ready(30)
    assert "exited with code 3 during start-up" in info.value.message
    assert "CUDA out of memory" in info.value.message


def test_a_rejected_setting_becomes_a_config_error_naming_the_variable():
    engine = start("import sys; print('SGLANG_WORKER_CONFIG_ERROR: CONTEXT_LENGTH: bad', "
                   "file=sys.stderr); raise SystemExit(2)")
    with pytest.raises(EngineConfigError, match=r"^CONTEXT_LENGTH: bad$"):
        engine.wait_ready(30)


def test_an_engine_that_never_gets_healthy_is_stopped_at_the_deadline():
    engine = start("import time; print('stuck'); time.sleep(60)")
    with pytest.raises(EngineStartError, match="not healthy after 1 s"):
        engine.wait_ready(1)
    assert not engine.alive


def test_the_death_watch_fires_on_an_unexpected_exit_but_not_after_stop():
    died = threading.Event()
    codes = []
    engine = start("import time; time.sleep(0.5); raise SystemExit(7)")
    engine.watch(lambda code: (codes.append(code), died.set()))
    assert died.wait(10) and codes == [7]

    stopped = start("import time; time.sleep(60)")
    calls = []
    stopped.watch(calls.append)
    stopped.stop()
    assert not stopped.alive and calls == []


def test_stop_kills_an_engine_that_ignores_sigterm():
    engine = start("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('ready', flush=True); time.sleep(60)")
    deadline = time.monotonic() + 30
    while "ready" not in engine.tail():
        assert time.monotonic() < deadline, engine.tail()
        time.sleep(0.05)
    engine.stop()
    assert engine.process.returncode == -9


def test_info_reads_the_served_model_and_vision_from_the_server():
    engine = start_stand_in({
        "/v1/models": (200, json.dumps({"object": "list", "data": [{"id": "tiny-vl"}]})),
        "/model_info": (200, json.dumps({"has_image_understanding": True})),
    })
    try:
        info = engine.info()
    finally:
        engine.stop()
    assert (info.base_url, info.served_model, info.vision) == (engine.base_url, "tiny-vl", True)


@pytest.mark.parametrize(("models", "words"), [
    ((200, "{}"), "the SGLang server's /v1/models answer (HTTP 200) names no model: {}"),
    ((200, '{"data": []}'), "names no model: {'data': []}"),
    ((200, '{"data": [{"id": 7}]}'), "names no model: {'data': [{'id': 7}]}"),
    ((200, "[1, 2]"), "names no model: [1, 2]"),
    ((500, "oops"), "the SGLang server's /v1/models answer (HTTP 500) names no model: None"),
    ((200, "<html>not json</html>"), "the SGLang server's /v1/models answer could not be read"),
])
def test_a_malformed_models_answer_is_a_start_error(models, words: str):
    engine = start_stand_in({"/v1/models": models})
    try:
        with pytest.raises(EngineStartError) as info:
            engine.info()
    finally:
        engine.stop()
    assert words in info.value.message


def test_engine_port_refuses_a_taken_port_and_picks_a_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EngineConfigError, match=f"ENGINE_PORT {port} is already in use"):
            engine_port(port)
    free = engine_port(0)
    with socket.socket() as check:
        check.bind(("127.0.0.1", free))  # it was free: binding it again succeeds
    assert free != port
