"""Video rows: the worker against SGLang taking the original clip, on the real SGLang CPU server.

One SGLang server (the tiny Qwen2-VL) serves both sides. "Direct" posts the chat with the
original clip (a base64 data URL) to SGLang, which decodes it itself (decord on this CPU
environment); "worker" runs the same job through ``Worker.handle``, end to end as a user's job
runs: base64, the decoder process, the clip, SGLang. The two alternate, ROUNDS times each.

V1. End-to-end time, worker / direct: a 1080p 30 s H.264 clip and a 4K 10 s clip (target 0.5).
V2. SGLang's peak memory (RSS of the engine's whole process tree above its idle level) while it
    takes the 4K clip, worker / direct (target 0.25).
V3. Bytes sent to SGLang for the 4K clip, as a share of the original (target 5%).
V4. A clip already at the size SGLang gives its frames (980x560, 10 s): worker / direct (target
    1.1).
V5. The event loop's worst stall while 4 such clips are prepared at once (target 20 ms).
V6. Video tokens, worker and direct, on every row (target: equal).

Clips are synthetic (smooth moving gradients, x264 ``veryfast``), made once per run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import sys
import threading
import time
from fractions import Fraction

import aiohttp
import av
import numpy as np
import psutil
from harness import p50, save, table, verdict

from sglang_worker.engine.server import launch_engine
from sglang_worker.jobs import make_worker
from sglang_worker.settings import Settings
from sglang_worker.video.parts import VideoPart
from sglang_worker.video.pipeline import VideoPipeline

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
CLIPS = {"1080p 30 s": (1920, 1080, 30), "4K 10 s": (3840, 2160, 10),
         "980x560 10 s (at the model's size)": (980, 560, 10)}


def make_clip(width: int, height: int, seconds: int, fps: int = 30) -> bytes:
    """Camera-like footage: a smooth picture, panned, with sensor grain, so x264 has real motion
    and noise to code (a noiseless synthetic clip compresses far better than footage does)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([127 + 120 * np.sin(x / width * 7 + y / height * 2),
                     127 + 120 * np.cos(y / height * 5),
                     127 + 120 * np.sin((x + y) / (width + height) * 11)], axis=-1)
    base = base.clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as target:
        stream = target.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        grain = np.random.default_rng(0).integers(-8, 9, (8, height, width, 1), np.int16)
        for i in range(seconds * fps):
            moved = np.roll(base, 4 * i, axis=1).astype(np.int16) + grain[i % 8]
            frame = av.VideoFrame.from_ndarray(moved.clip(0, 255).astype(np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def chat(url: str) -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What happens?"},
        {"type": "video_url", "video_url": {"url": url}}]}], "max_tokens": 1, "temperature": 0}


class PeakMemory:
    """The peak RSS of a process tree while a block runs, sampled every 10 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()

    def rss(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a process that just ended
                total += proc.memory_info().rss
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.01)

    def __enter__(self) -> PeakMemory:
        self.idle = self.rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.idle)


async def main() -> None:
    settings = Settings()
    clips = {name: make_clip(*spec) for name, spec in CLIPS.items()}
    urls = {name: "data:video/mp4;base64," + base64.b64encode(data).decode()
            for name, data in clips.items()}
    engine, info = launch_engine(settings)
    summary: dict = {}
    raw: dict = {}
    try:
        worker = make_worker(settings, info, engine)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as session:

            async def direct(url: str) -> tuple[float, dict]:
                started = time.perf_counter()
                async with session.post(info.base_url + "/v1/chat/completions",
                                        json={**chat(url), "model": info.served_model}) as r:
                    body = await r.json()
                assert r.status == 200, body
                return time.perf_counter() - started, body

            async def through(url: str) -> tuple[float, dict]:
                started = time.perf_counter()
                outs = [o async for o in worker.handle({"id": "bench", "input": {
                    "openai_route": "/v1/chat/completions", "openai_input": chat(url)}})]
                assert len(outs) == 1 and "error" not in outs[0], outs
                return time.perf_counter() - started, outs[0]

            def tokens(body: dict) -> int:
                return body["usage"]["prompt_tokens_details"]["video_tokens"]

            rows = []
            for name, url in urls.items():
                times: dict[str, list[float]] = {"direct": [], "worker": []}
                seen: dict[str, int] = {}
                memory: dict[str, int] = {}
                for i in range(ROUNDS):
                    order = [("direct", direct), ("worker", through)]
                    for side, call in (order if i % 2 == 0 else order[::-1]):
                        with PeakMemory(engine.process.pid) as peak:
                            seconds, body = await call(url)
                        times[side].append(seconds)
                        seen[side] = tokens(body)
                        memory[side] = max(memory.get(side, 0), peak.growth)
                ratio = p50(times["worker"]) / p50(times["direct"])
                rows.append((name, ratio, seen, memory))
                raw[name] = {"times": times, "tokens": seen, "engine_rss_growth": memory,
                             "bytes": len(clips[name])}
        # V3: what the worker sends for the 4K clip.
        pipeline = VideoPipeline(settings)
        part = VideoPart("v", urls["4K 10 s"], ("v",))
        sent, report = await pipeline.prepare([part], worker.pipeline.video_rules)
        share = len(sent[("v",)]) / len(urls["4K 10 s"])
        # V5: loop lag while four at-size clips are prepared at once.
        lag = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal lag
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.001)
                lag = max(lag, time.perf_counter() - started - 0.001)

        at_size = urls["980x560 10 s (at the model's size)"]
        tick = asyncio.create_task(ticker())
        await pipeline.prepare([VideoPart(f"v{i}", at_size, (f"v{i}",)) for i in range(4)],
                               worker.pipeline.video_rules)
        done.set()
        await tick
        await pipeline.close()
        await worker.close()
    finally:
        engine.stop()
    big = dict((r[0], r) for r in rows)
    v1 = {name: big[name][1] for name in ("1080p 30 s", "4K 10 s")}
    mem = big["4K 10 s"][3]
    v2 = mem["worker"] / mem["direct"] if mem["direct"] else float("nan")
    v4 = big["980x560 10 s (at the model's size)"][1]
    summary = {
        "V1": {"ratios": v1, "met": all(r <= 0.5 for r in v1.values())},
        "V2": {"worker_mb": mem["worker"] / 2**20, "direct_mb": mem["direct"] / 2**20,
               "ratio": v2, "met": v2 <= 0.25},
        "V3": {"share": share, "clip_bytes": report.bytes_out, "met": share <= 0.05},
        "V4": {"ratio": v4, "met": v4 <= 1.1},
        "V5": {"max_lag_ms": lag * 1000, "met": lag <= 0.020},
        "V6": {"tokens": {r[0]: r[2] for r in rows},
               "met": all(r[2]["worker"] == r[2]["direct"] for r in rows)},
    }
    print(table(f"Video, worker vs direct (p50 of {ROUNDS} interleaved rounds)",
                ["row", "value", "target", "verdict"], [
        ["V1 1080p 30 s, time worker/direct", f"{v1['1080p 30 s']:.2f}", "<= 0.5",
         verdict(v1["1080p 30 s"] <= 0.5)],
        ["V1 4K 10 s, time worker/direct", f"{v1['4K 10 s']:.2f}", "<= 0.5",
         verdict(v1["4K 10 s"] <= 0.5)],
        ["V2 4K, SGLang peak RSS growth worker/direct",
         f"{v2:.3f} ({mem['worker'] / 2**20:.0f} / {mem['direct'] / 2**20:.0f} MB)", "<= 0.25",
         verdict(summary["V2"]["met"])],
        ["V3 4K, bytes sent / original", f"{share:.1%}", "<= 5%", verdict(share <= 0.05)],
        ["V4 at-size clip, time worker/direct", f"{v4:.2f}", "<= 1.1", verdict(v4 <= 1.1)],
        ["V5 loop stall, 4 clips at once", f"{lag * 1000:.1f} ms", "<= 20 ms",
         verdict(lag <= 0.020)],
        ["V6 video tokens worker = direct", "; ".join(
            f"{r[0]}: {r[2]['worker']}/{r[2]['direct']}" for r in rows), "equal",
         verdict(summary["V6"]["met"])],
    ]))
    print(f"\nwritten: {save('video', summary, json.loads(json.dumps(raw, default=str)))}")


if __name__ == "__main__":
    asyncio.run(main())
