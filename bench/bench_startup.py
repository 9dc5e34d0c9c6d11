"""Row 7: start-up. The worker, from process start to ready to take jobs, against bare
``python -m sglang.launch_server`` from process start to ``GET /health`` answering 200.

Both serve the tiny Qwen2-VL on the CPU with the same flags; they alternate, ``RUNS`` each.
"Worker ready" is the moment ``python handler.py`` (deployed mode, pointed at a job API that
never answers) logs that SGLang is ready, right before it hands over to the RunPod SDK.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request

from harness import ROOT, p50, save, table, verdict

from sglang_worker.engine.server import engine_port
from sglang_worker.settings import Settings
from tiny_models.build import build_tiny_model

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bare(model: str) -> float:
    port = engine_port(0)
    env = {**os.environ, "SGLANG_USE_CPU_ENGINE": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "sglang.launch_server", "--model-path", model, "--host",
         "127.0.0.1", "--port", str(port), "--device", "cpu", "--max-total-tokens", "8192"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            assert process.poll() is None, "the bare server exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        stop(process)


def worker(model: str) -> float:
    # A job API address nothing listens on: the SDK starts and keeps retrying, which is fine.
    port = engine_port(0)
    env = {**os.environ, "MODEL_NAME": model, "RUNPOD_WEBHOOK_GET_JOB":
           f"http://127.0.0.1:{port}/job-take/$ID?x=1", "RUNPOD_POD_ID": "bench",
           "RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "handler.py"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "sglang_worker.engine.server: SGLang ready" in line:
                return time.perf_counter() - start
        raise AssertionError("the worker exited before it was ready")
    finally:
        stop(process)


async def main() -> None:
    model = str(build_tiny_model(Settings().tiny_model_dir))
    bare(model)  # warm the page cache for both sides: the first start of all is slower
    bares, workers = [], []
    for _ in range(RUNS):
        bares.append(bare(model))
        workers.append(worker(model))
    added = p50(workers) - p50(bares)
    print(table(f"Row 7: start-up, process start to ready ({RUNS} each, s)",
                ["side", "runs", "p50", "added", "target (<= 1 s)"],
                [["bare launch_server", " ".join(f"{b:.1f}" for b in bares), f"{p50(bares):.2f}",
                  "", ""],
                 ["worker", " ".join(f"{w:.1f}" for w in workers), f"{p50(workers):.2f}",
                  f"{added:+.2f}", verdict(added <= 1.0)]]))
    save("startup", {"bare_p50_s": p50(bares), "worker_p50_s": p50(workers), "added_s": added,
                     "met": added <= 1.0}, {"bare_s": bares, "worker_s": workers})


if __name__ == "__main__":
    asyncio.run(main())
