"""Rows 1-4 and 8: what the worker adds on top of SGLang, on the real SGLang CPU server.

One SGLang server (the tiny Qwen2-VL) serves both sides. "Direct" is the same request sent to
SGLang over HTTP with a persistent aiohttp session; "worker" is the job going through
``Worker.handle`` from the moment it enters the handler. The two alternate request by request.

1. Non-streaming text: added latency, p50 and p95 (worker minus direct).
2. Streaming: time to first token, worker / direct.
3. Non-streaming with a 1024x768 base64 JPEG that needs no change: added latency, p50.
4. Throughput at concurrency 1, 8 and 32, half text and half image jobs: worker / direct.
8. One 200-token stream: yields (HTTP requests to RunPod) per job and per second with the
   batching window and without it, and the time to first token of each.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
import time

import aiohttp
from bench_images import photo
from harness import interleave, ms, p50, p95, save, table, verdict

from sglang_worker.engine.server import launch_engine
from sglang_worker.jobs import make_worker
from sglang_worker.settings import Settings

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ROWS = sys.argv[2].split(",") if len(sys.argv) > 2 else ["1", "2", "3", "4", "8"]
TEXT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
        "temperature": 0}
STREAM = {**TEXT, "max_tokens": 16, "stream": True}


def jpeg_1024x768() -> str:
    buffer = io.BytesIO()
    photo((1024, 768), 7).save(buffer, "JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def with_image(url: str) -> dict:
    return {**TEXT, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Describe."}, {"type": "image_url", "image_url": {"url": url}}]}]}


class Sides:
    def __init__(self, base_url: str, model: str, worker, session: aiohttp.ClientSession):
        self.url = base_url + "/v1/chat/completions"
        self.model = model
        self.worker = worker
        self.session = session

    async def direct(self, body: dict) -> float:
        start = time.perf_counter()
        async with self.session.post(self.url, json={**body, "model": self.model}) as response:
            assert response.status == 200, await response.text()
            await response.json()
        return time.perf_counter() - start

    async def through_worker(self, body: dict, worker=None) -> float:
        start = time.perf_counter()
        job = {"id": "bench", "input": {"openai_route": "/v1/chat/completions",
                                        "openai_input": body}}
        outputs = [out async for out in (worker or self.worker).handle(job)]
        assert "error" not in outputs[-1], outputs[-1]
        return time.perf_counter() - start

    async def direct_ttft(self, body: dict) -> float:
        start = time.perf_counter()
        async with self.session.post(self.url, json={**body, "model": self.model}) as response:
            first = None
            async for _ in response.content.iter_any():
                first = first or time.perf_counter() - start
        return first

    async def worker_stream(self, body: dict, worker=None) -> tuple[float, int, float]:
        """Time to first yield, number of yields, total time."""
        start = time.perf_counter()
        job = {"id": "bench", "input": {"openai_route": "/v1/chat/completions",
                                        "openai_input": body}}
        first, count = None, 0
        async for out in (worker or self.worker).handle(job):
            first = first or time.perf_counter() - start
            count += 1
            assert not isinstance(out, dict), out
        return first, count, time.perf_counter() - start


async def row1(s: Sides) -> dict:
    worker, direct = await interleave(lambda: s.through_worker(TEXT), lambda: s.direct(TEXT),
                                      ROUNDS)
    added50, added95 = p50(worker) - p50(direct), p95(worker) - p95(direct)
    ok = added50 <= 0.002 and added95 <= 0.005
    print(table(f"Row 1: non-streaming text ({ROUNDS} each, ms)",
                ["side", "p50", "p95", "added p50", "added p95", "target (2 / 5 ms)"],
                [["direct", ms(p50(direct)), ms(p95(direct)), "", "", ""],
                 ["worker", ms(p50(worker)), ms(p95(worker)), ms(added50), ms(added95),
                  verdict(ok)]]))
    return {"direct_s": direct, "worker_s": worker, "added_p50_s": added50,
            "added_p95_s": added95, "met": ok}


async def row2(s: Sides) -> dict:
    worker, direct = await interleave(lambda: s.worker_stream(STREAM), lambda:
                                      s.direct_ttft(STREAM), ROUNDS // 2)
    worker_ttft = [w[0] for w in worker]
    ratio = p50(worker_ttft) / p50(direct)
    print(table(f"Row 2: streaming time to first token ({ROUNDS // 2} each, ms)",
                ["side", "p50", "p95", "ratio", "target (<= 1.05)"],
                [["direct", ms(p50(direct)), ms(p95(direct)), "", ""],
                 ["worker", ms(p50(worker_ttft)), ms(p95(worker_ttft)), f"{ratio:.3f}",
                  verdict(ratio <= 1.05)]]))
    return {"direct_s": direct, "worker_s": worker_ttft, "ratio": ratio, "met": ratio <= 1.05}


async def row3(s: Sides) -> dict:
    body = with_image(jpeg_1024x768())
    worker, direct = await interleave(lambda: s.through_worker(body), lambda: s.direct(body),
                                      ROUNDS // 2)
    added = p50(worker) - p50(direct)
    print(table(f"Row 3: 1024x768 base64 JPEG, passed through ({ROUNDS // 2} each, ms)",
                ["side", "p50", "p95", "added p50", "target (5 ms)"],
                [["direct", ms(p50(direct)), ms(p95(direct)), "", ""],
                 ["worker", ms(p50(worker)), ms(p95(worker)), ms(added), verdict(added <= 0.005)]]))
    return {"direct_s": direct, "worker_s": worker, "added_p50_s": added, "met": added <= 0.005}


async def throughput(run, bodies: list[dict], concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(body: dict) -> None:
        async with gate:
            await run(body)

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    return len(bodies) / (time.perf_counter() - start)


async def row4(s: Sides) -> dict:
    image = with_image(jpeg_1024x768())
    rows, summary = [], {}
    for concurrency in (1, 8, 32):
        jobs = max(64, concurrency * 4)
        bodies = [TEXT if i % 2 else image for i in range(jobs)]
        worker_tp, direct_tp = [], []
        for _ in range(5):  # A/B rounds
            direct_tp.append(await throughput(s.direct, bodies, concurrency))
            worker_tp.append(await throughput(s.through_worker, bodies, concurrency))
        ratio = p50(worker_tp) / p50(direct_tp)
        summary[concurrency] = {"direct_jobs_per_s": direct_tp, "worker_jobs_per_s": worker_tp,
                                "ratio": ratio, "met": ratio >= 0.95}
        rows.append([str(concurrency), str(jobs), f"{p50(direct_tp):.1f}", f"{p50(worker_tp):.1f}",
                     f"{ratio:.3f}", verdict(ratio >= 0.95)])
    print(table("Row 4: throughput, half text, half image (jobs/s, median of 5 rounds)",
                ["concurrency", "jobs", "direct", "worker", "ratio", "target (>= 0.95)"], rows))
    return summary


async def row8(s: Sides, unbatched) -> dict:
    body = {**STREAM, "max_tokens": 200, "ignore_eos": True}
    batched, plain = await interleave(lambda: s.worker_stream(body),
                                      lambda: s.worker_stream(body, unbatched), 30, warmup=2)
    rows, summary = [], {}
    for name, runs in (("window 0 ms", plain),
                       (f"window {s.worker.pipeline.client._settings.stream_batch_window_ms:g} ms",
                        batched)):
        ttft = [r[0] for r in runs]
        yields = [r[1] for r in runs]
        per_s = [r[1] / r[2] for r in runs]
        summary[name] = {"ttft_s": ttft, "yields": yields, "yields_per_s": per_s}
        rows.append([name, ms(p50(ttft)), f"{p50(yields):.0f}", f"{p50(per_s):.1f}"])
    fewer = p50(summary[rows[1][0]]["yields"]) < p50(summary["window 0 ms"]["yields"])
    print(table("Row 8: one 200-token stream, with and without the batching window (30 each)",
                ["worker", "TTFT p50 ms", "yields per job", "yields per s"], rows))
    print(f"fewer requests with the window: {verdict(fewer)}")
    summary["met"] = fewer
    return summary


async def main() -> None:
    settings = Settings()
    engine, info = launch_engine(settings)
    try:
        worker = make_worker(settings, info, engine)
        unbatched = make_worker(Settings(stream_batch_window_ms=0), info, engine)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            sides = Sides(info.base_url, info.served_model, worker, session)
            rows = {"1": lambda: row1(sides), "2": lambda: row2(sides),
                    "3": lambda: row3(sides), "4": lambda: row4(sides),
                    "8": lambda: row8(sides, unbatched)}
            summary = {f"row{row}": await rows[row]() for row in ROWS}
        for w in (worker, unbatched):
            await w.close()
    finally:
        engine.stop()
    verdicts = {row: result.get("met") for row, result in summary.items()}
    print(f"\nwritten: {save('worker', verdicts, json.loads(json.dumps(summary, default=str)))}")


if __name__ == "__main__":
    asyncio.run(main())
