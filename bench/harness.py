"""Shared pieces of the benchmarks: statistics, interleaved A/B runs, tables and JSON results.

Every benchmark runs both sides in one process, interleaved (A, B, A, B, ...), so drift and
noise on a shared machine land on both. Results go to stdout as a table and to
``bench/results/<name>.json`` (machine, versions, raw samples, summary).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sglang_worker.engine import engine_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


class ImageServer:
    """Static images on a loopback port, added while it runs (``serve`` returns the URL)."""

    def __init__(self) -> None:
        self._bodies: dict[str, bytes] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _get(self, request: web.Request) -> web.Response:
        body = self._bodies.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="image/jpeg")

    def serve(self, path: str, body: bytes) -> str:
        self._bodies[path] = body
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> ImageServer:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._get)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def interleave(a: Callable[[], Awaitable[float]], b: Callable[[], Awaitable[float]],
                     n: int, warmup: int = 5) -> tuple[list[float], list[float]]:
    """Run ``a`` and ``b`` alternately ``n`` times each (after a warm-up); their timings."""
    for _ in range(warmup):
        await a()
        await b()
    first: list[float] = []
    second: list[float] = []
    for i in range(n):
        # Alternate who goes first, so neither side always follows the other.
        if i % 2:
            second.append(await b())
            first.append(await a())
        else:
            first.append(await a())
            second.append(await b())
    return first, second


def machine() -> dict[str, Any]:
    import PIL

    versions = {"python": platform.python_version(), "pillow": PIL.__version__}
    try:
        from importlib.metadata import version

        versions["sglang"] = version("sglang")
        versions["aiohttp"] = version("aiohttp")
    except Exception:  # versions are informative only
        pass
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), **versions}


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths,  # noqa: E731
                                                                             strict=False)) + " |"
    out = [f"\n{title}", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def save(name: str, summary: dict[str, Any], raw: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                "machine": machine(), "summary": summary, "raw": raw},
                               indent=1))
    return path


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _wait_for_ping(process: subprocess.Popen, url: str, what: str) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the {what} exited during start-up"
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the {what} did not become ready in 600 s")


def start_relay(engine_url: str) -> tuple[subprocess.Popen, str]:
    """``bench/relay.py`` (a bare aiohttp hop) in front of ``engine_url``: the process and its
    URL, once it answers. Stop it with SIGTERM."""
    port = engine_port(0)
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "relay.py"), engine_url,
                                str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait_for_ping(process, url, "relay")
    return process, url


def start_lb_worker(env: dict[str, str]) -> tuple[subprocess.Popen, str, str]:
    """The worker as a load-balancing endpoint runs it (``python handler.py``,
    ``WORKER_MODE=lb``, its own SGLang server), with ``env`` added; returns the process, the
    worker's URL and its SGLang server's URL, once ``/ping`` answers 200. Stop it with SIGTERM.
    """
    port, engine = engine_port(0), engine_port(0)
    env = {**os.environ, "WORKER_MODE": "lb", "PORT": str(port), "LB_HOST": "127.0.0.1",
           "ENGINE_PORT": str(engine), **env}
    process = subprocess.Popen([sys.executable, "handler.py"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait_for_ping(process, url, "lb worker")
    return process, url, f"http://127.0.0.1:{engine}"
