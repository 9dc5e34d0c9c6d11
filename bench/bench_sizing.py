"""Rows 9-12: model-aware image sizing, end to end on the real SGLang CPU server.

One SGLang server (the tiny Qwen2-VL, processor maximum 12,544 pixels) serves both sides.
"Direct" posts the chat with the original image to SGLang; "worker" runs the same job through
``Worker.handle``. Every request carries an image variant of its own (a different corner
pixel), so neither the worker's prepared-image cache nor any SGLang cache can serve a repeat;
the worker here runs with IMAGE_CACHE_BYTES=0 except in row 11.

9.  One image, non-streaming, ``max_tokens`` 1, interleaved (medians of ROUNDS): a 4000x3000
    JPEG, a 6000x4000 JPEG, a 3000x2000 PNG, a 1024x768 JPEG, and a 112x84 JPEG that is already
    at the processor's size (passes through). Image tokens of both sides.
10. PSNR of what the model sees (the processor's own pixel values, un-normalised) for the
    worker's prepared image against the original, at the tiny model's grid and at Qwen2.5-VL's
    usual deployed maximum (1,003,520 pixels), computed offline with transformers.
11. Throughput: 8 concurrent jobs with a 12 MP photo each (3 rounds), worker / direct.
12. Turn 3 of a chat that re-sends two 12 MP photos: the worker's image time against turn 1's.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
import time
import warnings

import aiohttp
import numpy as np
from bench_images import photo
from harness import interleave, ms, p50, save, table, verdict
from PIL import Image

from sglang_worker.engine.server import launch_engine
from sglang_worker.images import ImagePipeline
from sglang_worker.images.sizing import PixelGrid
from sglang_worker.jobs import make_worker
from sglang_worker.pipeline.media import prepare_media
from sglang_worker.routes import CHAT_ROUTE
from sglang_worker.settings import Settings

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
IMAGES = {"4000x3000 JPEG": ((4000, 3000), "JPEG"), "6000x4000 JPEG": ((6000, 4000), "JPEG"),
          "3000x2000 PNG": ((3000, 2000), "PNG"), "1024x768 JPEG": ((1024, 768), "JPEG"),
          "112x84 JPEG (at target)": ((112, 84), "JPEG")}
LARGE = ("4000x3000 JPEG", "6000x4000 JPEG", "3000x2000 PNG")


class Variants:
    """Distinct encodings of one photo: the same picture with one corner pixel changed."""

    def __init__(self, size: tuple[int, int], fmt: str, seed: int) -> None:
        self.base = photo(size, seed)
        self.fmt = fmt
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        im = self.base.copy()
        im.putpixel((0, 0), (self.n % 256, self.n // 256 % 256, 7))
        buffer = io.BytesIO()
        if self.fmt == "JPEG":
            im.save(buffer, "JPEG", quality=92)
        else:
            im.save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()


def data_url(data: bytes) -> str:
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat(url: str, text: str = "Describe.") -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]}],
        "max_tokens": 1, "temperature": 0}


class Sides:
    def __init__(self, info, worker, session: aiohttp.ClientSession) -> None:
        self.url = info.base_url + "/v1/chat/completions"
        self.model = info.served_model
        self.worker = worker
        self.session = session
        self.tokens: dict[str, list[int]] = {"worker": [], "direct": []}

    async def direct(self, body: dict) -> float:
        start = time.perf_counter()
        async with self.session.post(self.url, json={**body, "model": self.model}) as response:
            assert response.status == 200, await response.text()
            out = await response.json()
        elapsed = time.perf_counter() - start
        self.tokens["direct"].append(out["usage"]["prompt_tokens_details"]["image_tokens"])
        return elapsed

    async def through_worker(self, body: dict) -> float:
        start = time.perf_counter()
        job = {"id": "bench", "input": {"openai_route": CHAT_ROUTE, "openai_input": body}}
        outputs = [out async for out in self.worker.handle(job)]
        elapsed = time.perf_counter() - start
        assert "error" not in outputs[-1], outputs[-1]
        self.tokens["worker"].append(outputs[-1]["usage"]["prompt_tokens_details"]["image_tokens"])
        return elapsed


async def row9(s: Sides, variants: dict[str, Variants]) -> dict:
    rows, summary = [], {}
    for name, v in variants.items():
        s.tokens = {"worker": [], "direct": []}
        worker, direct = await interleave(lambda v=v: s.through_worker(chat(data_url(v.next()))),
                                          lambda v=v: s.direct(chat(data_url(v.next()))),
                                          ROUNDS, warmup=1)
        ratio = p50(worker) / p50(direct)
        target = 0.5 if name in LARGE else 1.05
        same = s.tokens["worker"] == s.tokens["direct"]
        ok = ratio <= target and same
        summary[name] = {"direct_s": direct, "worker_s": worker, "ratio": ratio,
                         "tokens": s.tokens, "met": ok}
        rows.append([name, ms(p50(direct)), ms(p50(worker)), f"{ratio:.3f}", f"<= {target}",
                     f"{s.tokens['worker'][0]} / {s.tokens['direct'][0]}"
                     + ("" if same else " DIFFER"), verdict(ok)])
    print(table(f"Row 9: one image, max_tokens 1, interleaved (median of {ROUNDS}, ms)",
                ["image", "direct", "worker", "worker/direct", "target", "image tokens w/d",
                 ""], rows))
    return summary


def seen(processor, data: bytes) -> np.ndarray:
    """The processor's pixel values for ``data``, un-normalised to [0, 1]."""
    from PIL import ImageOps

    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    out = processor(images=[im], return_tensors="np")
    pv = out["pixel_values"].reshape(out["pixel_values"].shape[0], 3, -1)
    mean, std = np.array(processor.image_mean), np.array(processor.image_std)
    return pv * std[None, :, None] + mean[None, :, None]


async def row10(variants: dict[str, Variants]) -> dict:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    warnings.simplefilter("ignore")
    rows, summary = [], {}
    for label, grid in (("tiny (12,544 px)", PixelGrid("Qwen2-VL", 3136, 12544, 28)),
                        ("Qwen2.5-VL at 1,003,520 px", PixelGrid("Qwen2-VL", 3136, 1003520,
                                                                   28))):
        processor = Qwen2VLImageProcessor(min_pixels=grid.min_pixels,
                                          max_pixels=grid.max_pixels)
        pipeline = ImagePipeline(Settings(image_cache_bytes=0))
        for name, v in variants.items():
            data = v.next()
            body, _ = await prepare_media(pipeline, "image", CHAT_ROUTE, chat(data_url(data)), grid)
            url = body["messages"][0]["content"][1]["image_url"]["url"]
            prepared = base64.b64decode(url.split(",", 1)[1])
            a, b = seen(processor, prepared), seen(processor, data)
            mse = float(np.mean((a - b) ** 2))
            value = float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
            ok = value >= 35
            summary[f"{label} {name}"] = {"psnr_db": value, "met": ok}
            rows.append([label, name, "inf (passed through)" if mse == 0 else f"{value:.2f}",
                         verdict(ok)])
        await pipeline.close()
    print(table("Row 10: PSNR of what the model sees, worker vs direct (target >= 35 dB)",
                ["grid", "image", "PSNR dB", ""], rows))
    return summary


async def row11(s: Sides, v: Variants) -> dict:
    async def burst(run) -> float:
        bodies = [chat(data_url(v.next())) for _ in range(8)]
        start = time.perf_counter()
        await asyncio.gather(*(run(b) for b in bodies))
        return 8 / (time.perf_counter() - start)

    await burst(s.direct)
    worker_tp, direct_tp = [], []
    for _ in range(3):
        direct_tp.append(await burst(s.direct))
        worker_tp.append(await burst(s.through_worker))
    ratio = p50(worker_tp) / p50(direct_tp)
    print(table("Row 11: 8 concurrent jobs with a 12 MP photo each (jobs/s, median of 3)",
                ["direct", "worker", "worker/direct", "target (>= 2)"],
                [[f"{p50(direct_tp):.2f}", f"{p50(worker_tp):.2f}", f"{ratio:.2f}",
                  verdict(ratio >= 2)]]))
    return {"direct_jobs_per_s": direct_tp, "worker_jobs_per_s": worker_tp, "ratio": ratio,
            "met": ratio >= 2}


async def row12(grid: PixelGrid | None, a: Variants, b: Variants) -> dict:
    pipeline = ImagePipeline(Settings())  # the default cache
    photos = [data_url(a.next()), data_url(b.next())]
    messages: list[dict] = []
    seconds = []
    for turn in range(3):
        content = [{"type": "text", "text": f"turn {turn}"}]
        if turn == 0:
            content += [{"type": "image_url", "image_url": {"url": u}} for u in photos]
        messages.append({"role": "user", "content": content})
        _, report = await prepare_media(pipeline, "image", CHAT_ROUTE, {"messages": messages}, grid)
        seconds.append(report.seconds)
        messages.append({"role": "assistant", "content": "ok"})
    await pipeline.close()
    share = seconds[2] / seconds[0]
    print(table("Row 12: a chat re-sending two 12 MP photos, the worker's image time (ms)",
                ["turn 1", "turn 2", "turn 3", "turn 3 / turn 1", "target (<= 0.10)"],
                [[ms(seconds[0]), ms(seconds[1]), ms(seconds[2]), f"{share:.3f}",
                  verdict(share <= 0.10)]]))
    return {"image_s": seconds, "share": share, "met": share <= 0.10}


async def main() -> None:
    settings = Settings()
    variants = {name: Variants(size, fmt, i) for i, (name, (size, fmt)) in
                enumerate(IMAGES.items())}
    engine, info = launch_engine(settings)
    try:
        worker = make_worker(Settings(image_cache_bytes=0), info, engine)
        grid = worker.pipeline.image_grid
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            sides = Sides(info, worker, session)
            summary = {"row9": await row9(sides, variants)}
            summary["row10"] = await row10(variants)
            summary["row11"] = await row11(sides, variants["4000x3000 JPEG"])
            summary["row12"] = await row12(grid, Variants((4000, 3000), "JPEG", 11),
                                           Variants((3000, 4000), "JPEG", 12))
        await worker.close()
    finally:
        engine.stop()
    verdicts = {row: (result.get("met") if "met" in result else
                      all(r["met"] for r in result.values())) for row, result in summary.items()}
    print(f"\nwritten: {save('sizing', verdicts, json.loads(json.dumps(summary, default=str)))}")


if __name__ == "__main__":
    asyncio.run(main())
