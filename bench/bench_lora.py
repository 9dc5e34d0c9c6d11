"""Row L1: two LoRA adapters in use against the base model alone, through the worker and
straight to SGLang, as a client measures it.

One worker runs as deployed in load-balancing mode (``python handler.py``, ``WORKER_MODE=lb``,
the tiny Qwen2-VL, ``LORA_ADAPTERS`` with two tiny adapters from ``tiny_models.adapter``).
Each round sends 64 streaming chats at concurrency 32 (row 13's load): "base" rounds ask for
the base model only, "lora" rounds spread the same requests over the base and both adapters, a
third each.
"direct" sends them to that worker's SGLang server in SGLang's spelling
(``<served>:<adapter>``), "worker" to the worker by the adapters' names, and "relay" to a bare
aiohttp relay (``bench/relay.py``) in front of the same SGLang server, in SGLang's spelling:
the cost of any Python hop, with nothing done on the way. Rounds rotate side and mix, in one
run.

Target: the worker's throughput with adapters at least 0.95 of SGLang's own (the worker's cost
at most 5%). Also reported: the relay against SGLang (what the hop alone costs here) and the
worker against the relay (what the worker's own work costs on top of a hop). The CPU engine's
LoRA kernels are SGLang's ``torch_native`` ones, so the cost of adapters against the base says
little about a GPU's Triton or CUTLASS kernels.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from bench_lb import round_of
from harness import ROOT, p50, save, start_lb_worker, start_relay, table, verdict

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 6
REQUESTS = 64
ADAPTERS = ("style", "tone")


def build_adapters() -> dict[str, Path]:
    built = {}
    for seed, name in enumerate(ADAPTERS, start=1):
        out = ROOT / ".cache" / "models" / f"tiny-lora-{name}"
        subprocess.run([sys.executable, "-m", "tiny_models.adapter", "--out", str(out),
                        "--seed", str(seed)], check=True, capture_output=True)
        built[name] = out
    return built


def bodies(models: list[str]) -> list[dict]:
    return [{"model": models[n % len(models)], "max_tokens": 16, "temperature": 0,
             "stream": True,
             "messages": [{"role": "user", "content": f"Request {n}: say something."}]}
            for n in range(REQUESTS)]


async def main() -> None:
    adapters = build_adapters()
    process, lb_url, engine_url = start_lb_worker({
        "MAX_CONCURRENCY": "32",
        "LORA_ADAPTERS": " ".join(f"{name}={path}" for name, path in adapters.items())})
    relay, relay_url = start_relay(engine_url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            async with session.get(f"{engine_url}/v1/models") as response:
                served = (await response.json())["data"][0]["id"]
            sglang_spelling = bodies([served, *(f"{served}:{a}" for a in ADAPTERS)])
            work = {
                ("direct", "base"): bodies([served]),
                ("direct", "lora"): sglang_spelling,
                ("relay", "base"): bodies([served]),
                ("relay", "lora"): sglang_spelling,
                ("worker", "base"): bodies([served]),
                ("worker", "lora"): bodies([served, *ADAPTERS]),
            }
            urls = {"direct": f"{engine_url}/v1/chat/completions",
                    "relay": f"{relay_url}/v1/chat/completions",
                    "worker": f"{lb_url}/v1/chat/completions"}
            for (side, _), requests in work.items():  # warm-up
                await round_of(session, urls[side], requests[:6])
            rates: dict[str, list[float]] = {f"{side} {mix}": [] for side, mix in work}
            for i in range(ROUNDS):
                keys = list(work) if i % 2 == 0 else list(reversed(work))
                for side, mix in keys:
                    _, rate = await round_of(session, urls[side], work[(side, mix)])
                    rates[f"{side} {mix}"].append(rate)
    finally:
        for child in (relay, process):
            child.send_signal(signal.SIGTERM)
            child.wait(120)
    median = {key: p50(values) for key, values in rates.items()}
    ratio = median["worker lora"] / median["direct lora"]
    summary = {"lora_throughput_ratio": ratio,
               "base_throughput_ratio": median["worker base"] / median["direct base"],
               "relay_lora_ratio": median["relay lora"] / median["direct lora"],
               "relay_base_ratio": median["relay base"] / median["direct base"],
               "worker_over_relay_lora": median["worker lora"] / median["relay lora"],
               "worker_over_relay_base": median["worker base"] / median["relay base"],
               "met": ratio >= 0.95}
    print(table(f"Row L1: two LoRA adapters and the base, {REQUESTS} streams per round at "
                f"concurrency 32, {ROUNDS} rounds per side",
                ["side and mix", "requests/s (median)"],
                [[key, f"{value:.2f}"] for key, value in median.items()]))
    print(f"worker / direct with adapters {ratio:.3f} (target >= 0.95): {verdict(ratio >= 0.95)}")
    print(f"worker / direct, base only {summary['base_throughput_ratio']:.3f}")
    print(f"relay / direct (a bare Python hop): with adapters {summary['relay_lora_ratio']:.3f}, "
          f"base only {summary['relay_base_ratio']:.3f}")
    print(f"worker / relay (the worker's own work over a hop): with adapters "
          f"{summary['worker_over_relay_lora']:.3f}, base only "
          f"{summary['worker_over_relay_base']:.3f}")
    print(f"\nwritten: {save('lora', summary, {'requests_per_s': rates})}")


if __name__ == "__main__":
    asyncio.run(main())
