"""Video on the real SGLang server: the worker's clip gives the tiny Qwen2-VL the same video
tokens as the original sent straight to SGLang, the frames SGLang's processor makes of it are
close to the direct path's, and every route that carries video takes it.

``usage.prompt_tokens_details.video_tokens`` is SGLang's own count; "direct" posts the same
chat, with the original clip, to the session's SGLang server (which decodes it with decord,
its CPU fallback). The PSNR test runs SGLang's own ``preprocess_video`` on both clips.
"""

from __future__ import annotations

import math

import aiohttp
import numpy as np
import pytest
from sglang.srt.multimodal.processors.qwen_vl import preprocess_video
from sglang.srt.utils.video_decoder import VideoDecoderWrapper

from sglang_worker.video.clip import ClipJob, prepare_clip
from sglang_worker.video.sampling import VideoRules
from tests.support import video_corpus as corpus

pytestmark = pytest.mark.integration
MIN_PSNR_DB = 35.0


@pytest.fixture(scope="module")
def clips() -> dict[str, bytes]:
    return corpus.sweep()


def chat(url: str, **video: object) -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What happens?"},
        {"type": "video_url", "video_url": {"url": url, **video}}]}],
        "max_tokens": 1, "temperature": 0}


async def job(worker, route: str, body: dict) -> dict:
    outputs = [out async for out in worker.handle({"id": "video", "input": {
        "openai_route": route, "openai_input": body}})]
    assert len(outputs) == 1, outputs
    return outputs[0]


async def direct(engine_info, route: str, body: dict) -> dict:
    async with aiohttp.ClientSession() as session, session.post(
            engine_info.base_url + route,
            json={**body, "model": engine_info.served_model}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def video_tokens(response: dict) -> int:
    return response["usage"]["prompt_tokens_details"]["video_tokens"]


async def test_video_tokens_through_the_worker_equal_the_direct_paths(worker, engine_info,
                                                                      clips):
    rows = []
    for name, data in clips.items():
        url = corpus.data_url(data, "video/webm" if "webm" in name else "video/mp4")
        straight = await direct(engine_info, "/v1/chat/completions", chat(url))
        through = await job(worker, "/v1/chat/completions", chat(url))
        assert "error" not in through, (name, through)
        rows.append((name, video_tokens(straight), video_tokens(through)))
    assert all(d > 0 for _, d, _ in rows), rows
    assert [(n, d) for n, d, _ in rows] == [(n, w) for n, _, w in rows]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


@pytest.mark.parametrize("name", ["landscape 640x360 5 s", "portrait 360x640 3.3 s",
                                  "1080p 2 s", "variable frame rate", "webm vp9",
                                  "334x198, no multiple of 28"])
async def test_the_frames_sglang_makes_of_the_clip_are_the_direct_paths(clips, name,
                                                                       monkeypatch):
    # SGLang knows it runs on the CPU from its server's arguments; this process has none, so
    # it is told, or it would pin memory for a GPU that is not there.
    monkeypatch.setattr("sglang.srt.utils.video_decoder._is_cpu_engine", lambda: True)
    monkeypatch.setattr("sglang.srt.multimodal.processors.qwen_vl.is_cpu", lambda: True)
    original = clips[name]
    clip, _ = prepare_clip(original, ClipJob(VideoRules(), 600, 4096 * 2304))
    straight, _ = await preprocess_video(VideoDecoderWrapper(original))
    through, _ = await preprocess_video(VideoDecoderWrapper(clip))
    assert straight.shape == through.shape
    assert psnr(straight.numpy(), through.numpy()) >= MIN_PSNR_DB


async def test_generate_and_tokenize_take_video(worker, engine_info, clips):
    url = corpus.data_url(clips["landscape 640x360 5 s"])
    prompt = ("<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>What?<|im_end|>\n"
              "<|im_start|>assistant\n")
    body = {"text": prompt, "video_data": url, "sampling_params": {"max_new_tokens": 1}}
    through = await job(worker, "/generate", body)
    straight = await direct(engine_info, "/generate", body)
    assert "error" not in through, through
    assert through["meta_info"]["prompt_tokens"] == straight["meta_info"]["prompt_tokens"]
    tokens = await job(worker, "/v1/tokenize", {"messages": chat(url)["messages"]})
    assert "error" not in tokens and tokens["count"] > 0, tokens


async def test_the_clients_fps_lowers_the_frames_and_never_raises_them(worker, clips):
    url = corpus.data_url(clips["landscape 640x360 5 s"])
    default = video_tokens(await job(worker, "/v1/chat/completions", chat(url)))
    lower = video_tokens(await job(worker, "/v1/chat/completions", chat(url, fps=1.0)))
    higher = video_tokens(await job(worker, "/v1/chat/completions",
                                    chat(url, fps=30, max_frames=500)))
    assert (default, lower, higher) == (75, 30, 75)  # 10 frames; 4 at 1 fps; never above 10


async def test_bad_videos_fail_their_job_naming_the_part_and_the_worker_serves_on(worker, clips):
    bad = {
        "data:video/mp4;base64,AAAA": "cannot be opened as a video",
        corpus.data_url(corpus.audio_only_mp4()): "no video stream",
        corpus.data_url(corpus.with_frames_spread_over(corpus.make_clip(160, 96, 2, 10),
                                                       36000)): "MAX_VIDEO_SECONDS",
        "file:///etc/hostname": "local video files are not allowed",
        "/etc/hostname": "local video files are not allowed",
    }
    for source, words in bad.items():
        failed = await job(worker, "/v1/chat/completions", chat(source))
        error = failed["error"]
        assert '"param": "messages[0].content[1]"' in error and words in error, (words, error)
    ok = await job(worker, "/v1/chat/completions",
                   chat(corpus.data_url(clips["tiny 64x48"])))
    assert video_tokens(ok) > 0
