"""The worker process of the local endpoint: ``python handler.py``, started as RunPod starts it.

Contract:
- ``WorkerProcess.start(env)`` runs ``<this python> handler.py`` unchanged in the project root,
  with the endpoint's environment plus ``env`` (the job API's ``RUNPOD_WEBHOOK_*`` variables)
  and ``PYTHONUNBUFFERED=1``. One default differs from a deployed worker, and an explicit value
  in the environment wins over it: ``IMAGE_ALLOW_PRIVATE_URLS=true``, so image URLs on
  loopback work.
- The worker runs in its own session, so a terminal's Ctrl-C reaches only the endpoint, which
  forwards it (``signal``). It also gets SIGTERM from the kernel if the endpoint dies without
  cleaning up (``PR_SET_PDEATHSIG``), and its own engine follows it the same way.
- Its output (the worker's logs and, prefixed ``[sglang]``, the engine's) is copied line by
  line to the endpoint's stderr; the last ``TAIL_LINES`` are kept for ``tail()``, which goes
  into the message when the worker dies.
- ``wait()`` returns its exit code; ``signal(signum)`` forwards a signal (SIGTERM: the SDK
  finishes the jobs in flight and the worker stops its engine); ``kill()`` SIGKILLs the
  worker's process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from sglang_worker.child_process import OutputTail, die_with_parent

# The worker runs as deployed, from the checkout this emulator belongs to (a development tool).
CHECKOUT = Path(__file__).resolve().parents[2]
TAIL_LINES = 60
_LINE_LIMIT = 16 * 1024 * 1024


def worker_environment(overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("IMAGE_ALLOW_PRIVATE_URLS", "true")
    env.update(overrides)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class WorkerProcess:
    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self._tail = OutputTail(TAIL_LINES)
        self._pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, env: dict[str, str]) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "handler.py", cwd=CHECKOUT, env=worker_environment(env),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent, limit=_LINE_LIMIT,
        )
        self._pump = asyncio.create_task(self._copy_output())

    async def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        out = sys.stderr.buffer
        while line := await self.process.stdout.readline():
            self._tail.add(line.decode("utf-8", "replace").rstrip())
            out.write(line)
            out.flush()

    def tail(self) -> str:
        return self._tail.text()

    async def wait(self) -> int:
        assert self.process is not None
        code = await self.process.wait()
        if self._pump is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 2.0)
        return code

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def signal(self, signum: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)  # type: ignore[union-attr]

    def kill(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
