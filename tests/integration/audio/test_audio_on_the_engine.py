"""Audio on the real SGLang server: the worker's track gives the tiny Qwen2-Audio the same audio
tokens as the original sent straight to SGLang, SGLang's own feature extractor makes nearly the
same features of it, and every route that carries audio takes it.

``usage.prompt_tokens_details.audio_tokens`` is SGLang's own count; "direct" posts the same
chat, with the original file, to the package's SGLang server (which decodes WAV, MP3, FLAC and
Ogg with soundfile and torchaudio, MP4 and WebM with PyAV).
"""

from __future__ import annotations

import json

import aiohttp
import numpy as np
import pytest
from sglang.srt.utils.common import load_audio
from transformers import WhisperFeatureExtractor

from sglang_worker.audio.rules import AudioRules
from sglang_worker.audio.track import TrackJob, prepare_track
from tests.support import audio_corpus as corpus
from tests.support.image_server import ConnectionCounter

pytestmark = pytest.mark.integration
MIMES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg",
         "m4a": "audio/mp4", "webm": "audio/webm"}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return corpus.sweep()


def chat(*parts: dict) -> dict:
    return {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is said?"}, *parts]}], "max_tokens": 1, "temperature": 0}


def audio_url(url: str) -> dict:
    return {"type": "audio_url", "audio_url": {"url": url}}


async def job(worker, route: str, body: dict) -> dict:
    """The job's one output; a failed job's error (a JSON string for the SDK) is parsed."""
    outputs = [out async for out in worker.handle({"id": "audio", "input": {
        "openai_route": route, "openai_input": body}})]
    assert len(outputs) == 1, outputs
    output = outputs[0]
    if isinstance(output.get("error"), str):
        return json.loads(output["error"])
    return output


async def direct(info, route: str, body: dict) -> dict:
    async with aiohttp.ClientSession() as session, session.post(
            info.base_url + route, json={**body, "model": info.served_model}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def audio_tokens(response: dict) -> int:
    return response["usage"]["prompt_tokens_details"]["audio_tokens"]


async def test_audio_tokens_through_the_worker_equal_the_direct_paths(audio_worker, audio_info,
                                                                      files):
    rows = []
    for name, data in files.items():
        url = corpus.data_url(data, MIMES[name.split()[0]])
        straight = await direct(audio_info, "/v1/chat/completions", chat(audio_url(url)))
        through = await job(audio_worker, "/v1/chat/completions", chat(audio_url(url)))
        assert "error" not in through, (name, through)
        rows.append((name, audio_tokens(straight), audio_tokens(through)))
    assert all(d > 0 for _, d, _ in rows), rows
    assert [(n, d) for n, d, _ in rows] == [(n, w) for n, _, w in rows]


# (file, least waveform SNR in dB against SGLang's own load_audio of the original). At the
# model's rate nothing is resampled: only 16-bit rounding (a WAV or FLAC already 16-bit: none).
# Resampled, the worker uses FFmpeg's resampler, as SGLang's PyAV and torchcodec paths do; on
# SGLang's soundfile path (WAV, MP3, FLAC, Ogg on this CPU) torchaudio resamples instead, and
# the two filters differ by about -42 dB. A stereo file is averaged to mono, as soundfile's path
# and librosa do (SGLang's PyAV path mixes stereo 3 dB louder; docs/media.md).
FIDELITY = [("wav 16 kHz mono 5 s", 120), ("flac 16 kHz mono 4 s", 120),
            ("wav 48 kHz stereo 5 s", 38), ("wav 44.1 kHz stereo 3.3 s", 38),
            ("mp3 44.1 kHz stereo 6 s", 38), ("ogg opus 48 kHz mono 3 s", 38),
            ("webm opus 48 kHz mono 3 s", 75)]


@pytest.mark.parametrize(("name", "min_snr_db"), FIDELITY, ids=[f[0] for f in FIDELITY])
def test_sglang_loads_the_track_as_it_loads_the_original(files, tiny_audio_model, name,
                                                         min_snr_db):
    original = load_audio(files[name], 16000)
    track, _ = prepare_track(files[name], TrackJob(AudioRules(16000, 30.0), 900))
    ours = load_audio(track, 16000)
    assert ours.shape == original.shape, (ours.shape, original.shape)
    error = float(np.sum((original - ours) ** 2))
    snr = 10 * np.log10(float(np.sum(original ** 2)) / max(error, 1e-30))
    assert snr >= min_snr_db, snr
    extractor = WhisperFeatureExtractor.from_pretrained(tiny_audio_model)

    def features(samples: np.ndarray) -> np.ndarray:
        return extractor(samples, sampling_rate=16000, return_tensors="np")["input_features"][0]

    # log-mel features, scaled by the extractor to about [-1, 1], over the clip's own frames
    frames = len(original) // 160
    assert float(np.mean(np.abs(features(original) - features(ours))[:, :frames])) < 0.005


async def test_input_audio_parts_and_generate_audio_data(audio_worker, audio_info, files):
    data = files["wav 48 kHz stereo 5 s"]
    inline = {"type": "input_audio", "input_audio": {"data": corpus.b64(data), "format": "wav"}}
    straight = await direct(audio_info, "/v1/chat/completions", chat(inline))
    through = await job(audio_worker, "/v1/chat/completions", chat(inline))
    assert audio_tokens(through) == audio_tokens(straight) > 0
    prompt = "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nSay it<|im_end|>\n"
    body = {"text": prompt, "audio_data": [corpus.data_url(data)],
            "sampling_params": {"max_new_tokens": 1, "temperature": 0}}
    generated = await job(audio_worker, "/generate", body)
    straight = await direct(audio_info, "/generate", body)
    assert generated["meta_info"]["audio_tokens"] == straight["meta_info"]["audio_tokens"] > 0
    tokens = await job(audio_worker, "/v1/tokenize", {"messages": chat(inline)["messages"]})
    assert tokens["count"] > 0


async def test_a_local_file_below_audio_local_dir_is_read(audio_worker, audio_dir, files):
    path = audio_dir / "clip.wav"
    path.write_bytes(files["wav 16 kHz mono 5 s"])
    answer = await job(audio_worker, "/v1/chat/completions",
                       chat(audio_url(f"file://{path}")))
    assert audio_tokens(answer) == 125


BAD = {
    "truncated wav": (corpus.truncated_wav(), "truncated"),
    "wav claiming ten hours": (corpus.wav_claiming(36000), "MAX_AUDIO_SECONDS"),
    "zero-length stream": (corpus.empty_wav(), "no samples"),
    "mp4 video": (corpus.mp4_video(), "video stream"),
    "png": (corpus.png(), "not accepted"),
    "adpcm codec": (corpus.adpcm_wav(), "codec 'adpcm_ima_wav' is not accepted"),
}


@pytest.mark.parametrize("name", BAD)
async def test_bad_audio_is_a_400_naming_the_part(audio_worker, name):
    data, words = BAD[name]
    answer = await job(audio_worker, "/v1/chat/completions",
                       chat(audio_url(corpus.data_url(data))))
    assert answer["error"]["code"] == 400, answer
    assert answer["error"]["param"] == "messages[0].content[1]", answer
    assert words in answer["error"]["message"], answer


async def test_a_format_that_disagrees_with_the_bytes_is_refused(audio_worker):
    inline = {"type": "input_audio", "input_audio": {"data": corpus.b64(corpus.wav()),
                                                     "format": "mp3"}}
    answer = await job(audio_worker, "/v1/chat/completions", chat(inline))
    assert answer["error"]["param"] == "messages[0].content[1]", answer
    assert "input_audio.format is 'mp3' but the data is WAV" in answer["error"]["message"]


async def test_hostile_audio_urls_and_paths_are_refused_without_a_connection(audio_worker):
    async with ConnectionCounter() as listener:
        for url in (f"http://127.0.0.1:{listener.port}/a.wav",
                    f"http://169.254.169.254:{listener.port}/a.wav", "file:///etc/passwd",
                    "/etc/passwd"):
            answer = await job(audio_worker, "/generate",
                               {"text": "x", "audio_data": [url],
                                "sampling_params": {"max_new_tokens": 1}})
            assert answer["error"]["param"] == "audio_data[0]", (url, answer)
        assert listener.connections == 0


async def test_too_many_audio_parts_are_refused(audio_worker):
    part = audio_url(corpus.data_url(corpus.wav(16000, 0.5)))
    answer = await job(audio_worker, "/v1/chat/completions", chat(*[part] * 5))
    assert "MAX_AUDIOS_PER_REQUEST" in answer["error"]["message"], answer
    assert answer["error"]["param"] == "messages[0].content[5]", answer
