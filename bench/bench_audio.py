"""Audio rows: the worker against SGLang taking the original file, on the real SGLang CPU server.

The worker runs as a load-balancing endpoint runs it (``python handler.py``, ``WORKER_MODE=lb``,
its own SGLang server serving the tiny Qwen2-Audio; ``LB_MAX_BODY_BYTES`` raised so the
10-minute file fits in one request). "Direct" posts the chat, with the original WAV as a base64
data URL, to that SGLang server's own port, which decodes it itself (soundfile, then torchaudio
to resample, on this CPU environment); "worker" posts the same bytes to the worker's port. Both
are one HTTP client; the two alternate, ROUNDS times each, end to end as a user measures it.

A1. Bytes sent to SGLang for a 10-minute 48 kHz stereo WAV, worker / direct (target 0.2): the
    worker's track (its own pipeline, in this process, with the rules the served model gives)
    against the original's data URL.
A2. End-to-end time for that file, worker / direct (target 0.7).
A3. Audio tokens, worker and direct, on every row (target: equal).
Also shown, without a target: a 30 s file (5.8 MB, what fits a RunPod job), and A1 for a model
that reads the whole clip (no window to cut to).

The signal is synthetic and speech-like (drifting partials under noise), made once per run.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import signal
import sys
import time
import wave
from pathlib import Path

import aiohttp
import numpy as np
from harness import ROOT, p50, save, start_lb_worker, table, verdict

from sglang_worker.audio.parts import AudioPart
from sglang_worker.audio.pipeline import AudioPipeline
from sglang_worker.audio.rules import AudioRules, audio_rules
from sglang_worker.settings import Settings

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
MODEL = ROOT / ".cache" / "models" / "tiny-qwen2-audio"
FILES = {"10 min 48 kHz stereo": 600.0, "30 s 48 kHz stereo": 30.0}


def speech_like_wav(seconds: float, rate: int = 48000) -> bytes:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * rate)) / rate
    voice = sum(0.2 / k * np.sin(2 * np.pi * (180 * k + 30 * np.sin(t * 1.3 * k)) * t)
                for k in range(1, 5))
    mono = voice * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2)
    left = mono + 0.02 * rng.standard_normal(len(t))
    right = 0.9 * mono + 0.02 * rng.standard_normal(len(t))
    samples = (np.stack([left, right], axis=1).clip(-1, 1) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(2)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(samples.tobytes())
    return out.getvalue()


def chat(model: str, url: str) -> bytes:
    return json.dumps({"model": model, "max_tokens": 1, "temperature": 0, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is said?"},
                                     {"type": "audio_url", "audio_url": {"url": url}}]}]}
                      ).encode()


async def sent_bytes(url: str, rules: AudioRules) -> int:
    """The length of the data URL the worker hands SGLang for ``url``."""
    pipeline = AudioPipeline(Settings())
    try:
        prepared, _ = await pipeline.prepare([AudioPart("a", url, ("a",))], rules)
    finally:
        await pipeline.close()
    return len(prepared[("a",)])


async def main() -> None:
    if not MODEL.is_dir():
        raise SystemExit(f"{MODEL} is missing: run make models")
    urls = {name: "data:audio/wav;base64," + base64.b64encode(speech_like_wav(s)).decode()
            for name, s in FILES.items()}
    config = json.loads((Path(MODEL) / "preprocessor_config.json").read_text())
    rules = audio_rules("qwen2_audio", config)
    long_url = urls["10 min 48 kHz stereo"]
    a1 = await sent_bytes(long_url, rules) / len(long_url)
    whole = await sent_bytes(long_url, AudioRules(rules.rate, None)) / len(long_url)
    process, lb_url, engine_url = start_lb_worker({"MODEL_NAME": str(MODEL),
                                                   "LB_MAX_BODY_BYTES": "400000000"})
    raw: dict = {}
    rows = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as session:
            async with session.get(f"{engine_url}/v1/models") as response:
                model = (await response.json())["data"][0]["id"]
            sides = {"direct": engine_url, "worker": lb_url}

            async def call(base: str, body: bytes) -> tuple[float, int]:
                started = time.perf_counter()
                async with session.post(f"{base}/v1/chat/completions", data=body,
                                        headers={"Content-Type": "application/json"}) as r:
                    answer = await r.json()
                assert r.status == 200, str(answer)[:500]
                return (time.perf_counter() - started,
                        answer["usage"]["prompt_tokens_details"]["audio_tokens"])

            for name, url in urls.items():
                body = chat(model, url)
                times: dict[str, list[float]] = {"direct": [], "worker": []}
                tokens: dict[str, int] = {}
                for i in range(ROUNDS):
                    order = ("direct", "worker") if i % 2 == 0 else ("worker", "direct")
                    for side in order:
                        seconds, tokens[side] = await call(sides[side], body)
                        times[side].append(seconds)
                ratio = p50(times["worker"]) / p50(times["direct"])
                rows.append((name, ratio, tokens, times))
                raw[name] = {"times": times, "tokens": tokens, "body_bytes": len(body)}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
    by_name = {r[0]: r for r in rows}
    a2 = by_name["10 min 48 kHz stereo"][1]
    equal = all(r[2]["worker"] == r[2]["direct"] for r in rows)
    summary = {"A1": {"ratio": a1, "met": a1 <= 0.2}, "A2": {"ratio": a2, "met": a2 <= 0.7},
               "A3": {"tokens": {r[0]: r[2] for r in rows}, "met": equal},
               "whole_clip_bytes_ratio": whole,
               "short_file_time_ratio": by_name["30 s 48 kHz stereo"][1]}
    print(table(f"Audio, worker (lb) vs direct (p50 of {ROUNDS} interleaved rounds)",
                ["row", "value", "target", "verdict"], [
        ["A1 10 min 48 kHz stereo WAV, bytes to SGLang worker/direct", f"{a1:.4f}", "<= 0.2",
         verdict(a1 <= 0.2)],
        ["A2 the same, end-to-end time worker/direct",
         f"{a2:.2f} ({p50(by_name['10 min 48 kHz stereo'][3]['worker']):.2f} s / "
         f"{p50(by_name['10 min 48 kHz stereo'][3]['direct']):.2f} s)", "<= 0.7",
         verdict(a2 <= 0.7)],
        ["A3 audio tokens worker = direct", "; ".join(
            f"{r[0]}: {r[2]['worker']}/{r[2]['direct']}" for r in rows), "equal",
         verdict(equal)],
        ["30 s 48 kHz stereo WAV, time worker/direct",
         f"{by_name['30 s 48 kHz stereo'][1]:.2f}", "-", "-"],
        ["A1 for a model that reads the whole clip", f"{whole:.4f}", "-", "-"],
    ]))
    print(f"\nwritten: {save('audio', summary, raw)}")


if __name__ == "__main__":
    asyncio.run(main())
