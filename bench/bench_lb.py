"""Row 13: load-balancing mode end to end, against the bare engine, as a client measures it.

The worker runs as deployed (``python handler.py`` with ``WORKER_MODE=lb``, its own SGLang
server, the tiny Qwen2-VL). "Direct" is the same request sent to that SGLang server's own
port; "lb" is the request sent to the worker's port; "relay" is the request sent through a
bare aiohttp relay (``bench/relay.py``) to the same SGLang server: what any Python hop costs,
with nothing done on the way. All sides are plain HTTP clients with a persistent session.
Rounds rotate direct, relay, lb, then lb, relay, direct, ... Each round sends 64 streaming
chat requests (half with a small base64 PNG) at concurrency 32 and records every request's
time to first byte of its first event and the round's throughput.

Targets: TTFT p50 ratio (lb / direct) at most 1.05; throughput ratio at least 0.95. The relay's
ratios are reported beside them.
"""

from __future__ import annotations

import asyncio
import base64
import io
import signal
import sys
import time

import aiohttp
from harness import ms, p50, p95, save, start_lb_worker, start_relay, table, verdict
from PIL import Image

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 6
REQUESTS, CONCURRENCY = 64, 32


def png_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 90, 160)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def bodies(model: str) -> list[dict]:
    image = png_url()
    out = []
    for n in range(REQUESTS):
        content: list[dict] = [{"type": "text", "text": f"Request {n}: say something."}]
        if n % 2:
            content.append({"type": "image_url", "image_url": {"url": image}})
        out.append({"model": model, "messages": [{"role": "user", "content": content}],
                    "max_tokens": 16, "temperature": 0, "stream": True})
    return out


async def ttft(session: aiohttp.ClientSession, url: str, body: dict) -> float:
    start = time.perf_counter()
    async with session.post(url, json=body) as response:
        assert response.status == 200, await response.text()
        await response.content.readuntil(b"\n\n")
        first = time.perf_counter() - start
        await response.read()
    return first


async def round_of(session: aiohttp.ClientSession, url: str,
                   work: list[dict]) -> tuple[list[float], float]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(body: dict) -> float:
        async with gate:
            return await ttft(session, url, body)

    start = time.perf_counter()
    firsts = await asyncio.gather(*(one(body) for body in work))
    return list(firsts), len(work) / (time.perf_counter() - start)


async def main() -> None:
    process, lb_url, engine_url = start_lb_worker({"MAX_CONCURRENCY": str(CONCURRENCY)})
    relay, relay_url = start_relay(engine_url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            async with session.get(f"{engine_url}/v1/models") as response:
                model = (await response.json())["data"][0]["id"]
            work = bodies(model)
            sides = {"direct": f"{engine_url}/v1/chat/completions",
                     "relay": f"{relay_url}/v1/chat/completions",
                     "lb": f"{lb_url}/v1/chat/completions"}
            for url in sides.values():  # warm-up
                await round_of(session, url, work[:8])
            ttfts: dict[str, list[float]] = {side: [] for side in sides}
            rates: dict[str, list[float]] = {side: [] for side in sides}
            for i in range(ROUNDS):
                order = list(sides) if i % 2 == 0 else list(reversed(sides))
                for side in order:
                    firsts, rate = await round_of(session, sides[side], work)
                    ttfts[side] += firsts
                    rates[side].append(rate)
    finally:
        for child in (relay, process):
            child.send_signal(signal.SIGTERM)
            child.wait(120)
    ttft_ratio = p50(ttfts["lb"]) / p50(ttfts["direct"])
    rate_ratio = p50(rates["lb"]) / p50(rates["direct"])
    print(table(f"Row 13: lb mode at concurrency {CONCURRENCY}, {REQUESTS} streams per round, "
                f"{ROUNDS} rounds per side",
                ["side", "TTFT p50 ms", "TTFT p95 ms", "requests/s (median)"],
                [[side, ms(p50(ttfts[side])), ms(p95(ttfts[side])), f"{p50(rates[side]):.1f}"]
                 for side in ("direct", "relay", "lb")]))
    print(f"TTFT ratio {ttft_ratio:.3f} (target <= 1.05): {verdict(ttft_ratio <= 1.05)}")
    print(f"throughput ratio {rate_ratio:.3f} (target >= 0.95): {verdict(rate_ratio >= 0.95)}")
    relay_ttft = p50(ttfts["relay"]) / p50(ttfts["direct"])
    relay_rate = p50(rates["relay"]) / p50(rates["direct"])
    print(f"relay / direct (a bare Python hop): TTFT {relay_ttft:.3f}, throughput "
          f"{relay_rate:.3f}")
    summary = {"ttft_ratio": ttft_ratio, "throughput_ratio": rate_ratio,
               "relay_ttft_ratio": relay_ttft, "relay_throughput_ratio": relay_rate,
               "met": ttft_ratio <= 1.05 and rate_ratio >= 0.95}
    written = save("lb", summary, {"ttft_s": ttfts, "requests_per_s": rates})
    print(f"\nwritten: {written}")


if __name__ == "__main__":
    asyncio.run(main())
