"""Engine supervision with stand-in processes: start-up failures, death watch, stop, ports."""

import socket
import subprocess
import sys
import threading

import pytest

from sglang_worker.engine.server import Engine, engine_port
from sglang_worker.errors import EngineConfigError, EngineStartError
from sglang_worker.settings import Settings


def start(code: str) -> Engine:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there: /health never answers
    return Engine(process, port, Settings(engine_shutdown_timeout_s=2))


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
    while "ready" not in engine.tail():
        pass
    engine.stop()
    assert engine.process.returncode == -9


def test_engine_port_refuses_a_taken_port_and_picks_a_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EngineConfigError, match=f"ENGINE_PORT {port} is already in use"):
            engine_port(port)
    assert engine_port(0) > 0
