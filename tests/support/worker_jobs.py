"""Helpers the tests share for driving workers and reading what they did.

- ``run_job(worker, job_input, job_id)``: every output of one job through ``Worker.handle``, as
  the SDK iterates it.
- ``engine_load(engine_url)``: SGLang's live count of requests running or waiting, from its
  ``/v1/loads`` snapshot (no debug route needed).
- ``tree(root)``: every entry under ``root`` with its mode and modification time, so that any
  write changes it, even one made as root, whom a read-only mode does not stop.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any


async def run_job(worker: Any, job_input: Any, job_id: str = "test") -> list[Any]:
    return [out async for out in worker.handle({"id": job_id, "input": job_input})]


def engine_load(engine_url: str) -> int:
    with urllib.request.urlopen(f"{engine_url}/v1/loads", timeout=5) as response:
        loads = json.loads(response.read())["loads"]
    return sum(rank["num_running_reqs"] + rank["num_waiting_reqs"] for rank in loads)


def tree(root: Path) -> list[tuple[str, int, float]]:
    return sorted((str(p), p.lstat().st_mode, p.lstat().st_mtime) for p in [root,
                                                                          *root.rglob("*")])
