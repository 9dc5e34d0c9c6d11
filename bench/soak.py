"""Load and soak (``make soak``): 1,000 jobs through the local endpoint at concurrency 64.

The endpoint runs as ``make serve`` runs it: the worker (``python handler.py``, the RunPod SDK's
real job loop) and its own SGLang server with the tiny Qwen2-VL. The jobs mix text, base64
images and URL images (served from a loopback server here), OpenAI Responses and Anthropic
Messages jobs with base64 images, and chats with a base64 video clip (each its own clip, a
different length), half of them streaming, over the OpenAI route and ``/runsync``. Every 50th
job carries a deliberately corrupt image or video.

Checks, printed as figures:
- lost: jobs with no answer at all (must be 0)
- unexpected errors: failures other than the injected ones (must be 0); every injected one
  must fail with a 400 that names the image part
- cross-talk: every answer belongs to its own request. A completion echoes its own numbered
  prompt; a chat carries its own request id (SGLang's ``rid`` comes back as the response id)
- memory: the worker's RSS after the first 100 jobs and after the last 100 (bound below)
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import aiohttp
import openai
import psutil
from bench_video import make_clip
from harness import ROOT, ImageServer, save, table, verdict
from PIL import Image

from sglang_worker.engine import engine_port

JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
CONCURRENCY = 64
INJECT_EVERY = 50
RSS_BOUND_MB = 64


def picture(n: int, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96 + n % 64, 72), (n * 37 % 256, n * 11 % 256, 90)).save(buffer, fmt)
    return buffer.getvalue()


def clip(n: int) -> bytes:
    """A small H.264 clip of its own for job ``n``: 1 to 4 s of 96x64."""
    return make_clip(96, 64, 1 + n % 4, 8)


def start_endpoint() -> tuple[subprocess.Popen, str, psutil.Process]:
    port, engine = engine_port(0), engine_port(0)
    env = {**os.environ, "ENGINE_PORT": str(engine)}
    process = subprocess.Popen([sys.executable, "-m", "runpod_local", "--port",
                                str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert process.poll() is None, "the local endpoint exited during start-up"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if json.loads(response.read())["workers"]["initializing"] == 0:
                    break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    worker = next(p for p in psutil.Process(process.pid).children(recursive=True)
                  if "handler.py" in " ".join(p.cmdline()))
    return process, url, worker


def chat_body(n: int, image_url: str, stream: bool, kind: str = "image_url") -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": f"Job {n}: what is this?"},
        {"type": kind, kind: {"url": image_url}}]}],
        "max_tokens": 3, "temperature": 0, "stream": stream, "rid": f"soak-{n}"}


async def run_job(n: int, client, http, url: str, images: ImageServer, model: str) -> dict:
    """One job; returns {"n", "kind", "ok", "own", "status"}."""
    stream = stream_of(n)
    # Shifted by one every INJECT_EVERY jobs, so the injected jobs land on every kind.
    kind = ("text", "base64", "url", "responses", "messages", "video")[
        (n + n // INJECT_EVERY) % 6]
    injected = n % INJECT_EVERY == 0
    if kind in ("responses", "messages"):
        return await run_newer_api(n, kind, client, http, url, model, injected)
    if kind == "text":
        prompt = f"Soak job number {n} says:"
        body = {"prompt": prompt, "max_tokens": 3, "echo": True, "temperature": 0}
        if stream:
            chunks = await client.completions.create(model=model, stream=True, **body)
            text = "".join([c.choices[0].text async for c in chunks if c.choices])
        else:
            text = (await client.completions.create(model=model, **body)).choices[0].text
        return {"n": n, "kind": kind, "ok": True, "own": text.startswith(prompt)}
    part = "image_url"
    if kind == "base64":
        image = "data:image/png;base64," + (
            "bm90IGFuIGltYWdl" if injected else base64.b64encode(picture(n, "PNG")).decode())
    elif kind == "video":
        part = "video_url"
        image = "data:video/mp4;base64," + (
            "bm90IGEgdmlkZW8=" if injected else base64.b64encode(clip(n)).decode())
    else:
        image = images.serve(f"/soak-{n}.jpg", b"<html>nope</html>" if injected else picture(n))
    body = chat_body(n, image, stream, part)
    if stream or injected:
        sdk_body = {k: v for k, v in body.items() if k != "rid"}
        extra = {"extra_body": {"rid": body["rid"]}}  # SGLang's field, not the SDK's
        try:
            if stream:
                chunks = await client.chat.completions.create(model=model, **sdk_body, **extra)
                ids = {c.id async for c in chunks}
            else:
                ids = {(await client.chat.completions.create(model=model, **sdk_body,
                                                              **extra)).id}
        except openai.BadRequestError as error:
            return {"n": n, "kind": kind, "ok": False, "injected": injected, "status": 400,
                    "names_part": "content[1]" in str(error.body)}
        return {"n": n, "kind": kind, "ok": True, "own": ids == {f"soak-{n}"}}
    job = {"input": {"openai_route": "/v1/chat/completions", "openai_input": body}}
    async with http.post(f"{url}/runsync", json=job) as response:
        answer = await response.json()
    if answer.get("status") != "COMPLETED":
        return {"n": n, "kind": kind, "ok": False, "injected": injected, "status": answer}
    return {"n": n, "kind": kind, "ok": True, "own": answer["output"][0]["id"] == f"soak-{n}"}


async def run_newer_api(n: int, kind: str, client, http, url: str, model: str,
                        injected: bool) -> dict:
    """A Responses or an Anthropic Messages job with a base64 image. The Responses API echoes
    the request's ``metadata``, which proves the answer is this job's; a Messages answer
    carries nothing of the request, so it is checked for arriving only (``own`` None)."""
    data = "bm90IGFuIGltYWdl" if injected else base64.b64encode(picture(n, "PNG")).decode()
    if kind == "responses":
        try:
            response = await client.responses.create(
                model=model, max_output_tokens=3, metadata={"n": str(n)},
                input=[{"role": "user", "content": [
                    {"type": "input_text", "text": f"Job {n}"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{data}"}]}])
        except openai.BadRequestError as error:
            return {"n": n, "kind": kind, "ok": False, "injected": injected, "status": 400,
                    "names_part": "input[0].content[1]" in str(error.body)}
        return {"n": n, "kind": kind, "ok": True, "own": response.metadata == {"n": str(n)}}
    body = {"model": model, "max_tokens": 3, "stream": stream_of(n), "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": f"Job {n}"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": data}}]}]}
    async with http.post(f"{url}/openai/v1/messages", json=body) as response:
        text = await response.text()
        status = response.status
    if status != 200:
        return {"n": n, "kind": kind, "ok": False, "injected": injected, "status": status,
                "names_part": "messages[0].content[1].source" in text}
    done = "message_stop" in text if body["stream"] else '"type":"message"' in text.replace(
        " ", "")
    return {"n": n, "kind": kind, "ok": done, "own": None, "status": status}


def stream_of(n: int) -> bool:
    return n % 2 == 0


async def main() -> None:
    process, url, worker = start_endpoint()
    rss: dict[str, float] = {}
    try:
        async with ImageServer() as images, aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=600)) as http:
            client = openai.AsyncOpenAI(base_url=f"{url}/openai/v1", api_key="local",
                                        max_retries=0, timeout=600)
            model = (await client.models.list()).data[0].id
            gate = asyncio.Semaphore(CONCURRENCY)
            finished = 0

            async def one(n: int) -> dict:
                nonlocal finished
                async with gate:
                    try:
                        result = await run_job(n, client, http, url, images, model)
                    except Exception as error:  # a lost or broken job is a finding, not a crash
                        result = {"n": n, "ok": False, "injected": False, "status": repr(error)}
                finished += 1
                if finished == 100:
                    rss["first_100_mb"] = worker.memory_info().rss / 2**20
                return result

            started = time.perf_counter()
            results = await asyncio.gather(*(one(n) for n in range(JOBS)))
            elapsed = time.perf_counter() - started
            rss["last_100_mb"] = worker.memory_info().rss / 2**20
            await client.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    lost = JOBS - len(results)
    injected = [r for r in results if r["n"] % INJECT_EVERY == 0 and r.get("kind") != "text"]
    unexpected = [r for r in results if not r["ok"] and r not in injected]
    injected_ok = all(not r["ok"] and r.get("status") == 400 and r.get("names_part")
                      for r in injected)
    foreign = [r for r in results if r["ok"] and r["own"] is False]
    growth = rss["last_100_mb"] - rss["first_100_mb"]
    ok = not lost and not unexpected and not foreign and injected_ok and growth <= RSS_BOUND_MB
    print(table(f"Soak: {JOBS} jobs at concurrency {CONCURRENCY} through the local endpoint",
                ["jobs", "seconds", "jobs/s", "lost", "unexpected errors", "injected (refused)",
                 "cross-talk", "RSS after 100 MB", "RSS at end MB", "growth MB", "verdict"],
                [[str(JOBS), f"{elapsed:.1f}", f"{JOBS / elapsed:.1f}", str(lost),
                  str(len(unexpected)), f"{len(injected)} ({verdict(injected_ok)})",
                  str(len(foreign)), f"{rss['first_100_mb']:.1f}", f"{rss['last_100_mb']:.1f}",
                  f"{growth:+.1f} (bound {RSS_BOUND_MB})", verdict(ok)]]))
    if unexpected:
        print("first unexpected:", unexpected[:3])
    save("soak", {"jobs": JOBS, "concurrency": CONCURRENCY, "seconds": elapsed, "lost": lost,
                  "unexpected_errors": len(unexpected), "injected": len(injected),
                  "cross_talk": len(foreign), **rss, "rss_growth_mb": growth, "met": ok},
         {"results": results})
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
