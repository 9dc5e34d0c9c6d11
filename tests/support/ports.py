"""A free TCP port on 127.0.0.1, for servers the tests start (the worker's own helper)."""

from sglang_worker.engine.server import engine_port


def free_port() -> int:
    return engine_port(0)
