"""Rows 5 and 6: the image path alone, against the naive path; event-loop lag under image load.

Row 5. A fixed corpus (a 4000x3000 and a 6000x4000 photo-like JPEG, a 3840x2160 PNG with alpha,
a 2000x2000 WebP) is shrunk to a longest side of ``TARGET_SIDE`` by the worker's
``normalise_image`` and by the naive path from common practice: ``Image.open``,
``convert("RGB")``, ``thumbnail`` with LANCZOS, save as JPEG quality 85 with ``optimize=True``.
Both are timed interleaved; the quality of each output is its PSNR against a high-quality
reference (full decode, alpha on white, one LANCZOS resize to the same size).

Row 6. Eight requests, each with a 24 MP JPEG as base64, go through ``ImagePipeline.prepare``
at once with the default settings, while a ticker measures how late the event loop wakes up.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time

import numpy as np
from harness import interleave, ms, p50, p95, save, table, verdict
from PIL import Image, ImageDraw, ImageFilter

from sglang_worker.images import ImagePipeline
from sglang_worker.images.normalise import ImageLimits, normalise_image
from sglang_worker.pipeline.media import prepare_media
from sglang_worker.routes import CHAT_ROUTE
from sglang_worker.settings import Settings

TARGET_SIDE = 1280
ROUNDS = 7


def photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Photo-like content: smooth light, shapes with soft edges, fine texture, sensor noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(x / w * 3.1 + c) * np.cos(y / h * 2.3 - c)
                     for c in (0.0, 1.3, 2.6)], axis=-1)
    texture = 18 * np.sin(x / 7.0) * np.sin(y / 5.0)
    noise = rng.normal(0, 6, size=(h, w, 1))
    im = Image.fromarray(np.clip(base + texture[..., None] + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for i in range(12):
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), int(rng.integers(w // 30, w // 8))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r),
                     fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        draw.line((0, i * h // 12, w, h - i * h // 12), fill=(250, 250, 250), width=3)
    return im.filter(ImageFilter.GaussianBlur(1.2))


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def corpus() -> dict[str, bytes]:
    rgba = photo((3840, 2160), 3).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    return {
        "4000x3000 JPEG": encode(photo((4000, 3000), 1), "JPEG", quality=92),
        "6000x4000 JPEG": encode(photo((6000, 4000), 2), "JPEG", quality=92),
        "3840x2160 PNG+alpha": encode(rgba, "PNG", compress_level=6),
        "2000x2000 WebP": encode(photo((2000, 2000), 4), "WEBP", quality=90),
    }


def naive(data: bytes) -> bytes:
    im = Image.open(io.BytesIO(data))
    im = im.convert("RGB")
    im.thumbnail((TARGET_SIDE, TARGET_SIDE), Image.LANCZOS)
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue()


LIMITS = ImageLimits(max_pixels=200_000_000, max_side=TARGET_SIDE, target_pixels=0,
                     jpeg_quality=90)


def ours(data: bytes) -> bytes:
    return normalise_image(data, LIMITS).data


def reference(data: bytes, size: tuple[int, int]) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    im.load()
    if im.mode in ("RGBA", "LA", "P"):
        rgba = im.convert("RGBA")
        white = Image.new("RGB", im.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        im = white
    return np.asarray(im.convert("RGB").resize(size, Image.LANCZOS), dtype=np.float64)


def psnr(output: bytes, data: bytes) -> float:
    out = Image.open(io.BytesIO(output)).convert("RGB")
    mse = np.mean((np.asarray(out, dtype=np.float64) - reference(data, out.size)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


async def row5() -> dict:
    rows, summary = [], {}
    for name, data in corpus().items():
        async def run_ours(data=data) -> float:
            t = time.perf_counter()
            ours(data)
            return time.perf_counter() - t

        async def run_naive(data=data) -> float:
            t = time.perf_counter()
            naive(data)
            return time.perf_counter() - t

        a, b = await interleave(run_ours, run_naive, ROUNDS, warmup=1)
        speedup = p50(b) / p50(a)
        q_ours, q_naive = psnr(ours(data), data), psnr(naive(data), data)
        is_jpeg = "JPEG" in name
        ok = (speedup >= 4 or not is_jpeg) and q_ours >= q_naive - 0.5
        summary[name] = {"ours_p50_s": p50(a), "naive_p50_s": p50(b), "speedup": speedup,
                         "psnr_ours_db": q_ours, "psnr_naive_db": q_naive,
                         "bytes_in": len(data), "target": "4x faster (JPEG), PSNR >= naive-0.5",
                         "met": ok}
        rows.append([name, ms(p50(a)), ms(p50(b)), f"{speedup:.1f}x", f"{q_ours:.2f}",
                     f"{q_naive:.2f}", verdict(ok)])
    print(table(f"Row 5: shrink to longest side {TARGET_SIDE} (ms, p50 of {ROUNDS})",
                ["image", "ours", "naive", "speedup", "PSNR ours dB", "PSNR naive dB",
                 "target"], rows))
    return summary


async def row6() -> dict:
    jpeg = encode(photo((6000, 4000), 5), "JPEG", quality=92)
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,"
                                            + base64.b64encode(jpeg).decode()}}]}]}
    pipeline = ImagePipeline(Settings())
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - start - 0.001)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    results = await asyncio.gather(*(prepare_media(pipeline, "image", CHAT_ROUTE, body)
                                     for _ in range(8)))
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    await pipeline.close()
    worst = max(lags)
    assert all(report.changed for _, report in results)
    print(table("Row 6: event-loop lag while 8 requests with a 24 MP JPEG are normalised",
                ["requests", "wall s", "ticks", "lag p50 ms", "lag p95 ms", "lag max ms",
                 "target"],
                [["8", f"{elapsed:.2f}", str(len(lags)), ms(p50(lags)), ms(p95(lags)), ms(worst),
                  verdict(worst <= 0.020)]]))
    return {"wall_s": elapsed, "ticks": len(lags), "lag_p50_s": p50(lags),
            "lag_p95_s": p95(lags), "lag_max_s": worst, "target_s": 0.020,
            "met": worst <= 0.020}


async def main() -> None:
    summary = {"row5": await row5(), "row6": await row6()}
    print(f"\nwritten: {save('images', summary, {})}")


if __name__ == "__main__":
    asyncio.run(main())
