#!/usr/bin/env python3
"""Check an endpoint of this worker for image, video and audio support, with the official
OpenAI SDK.

    python test_image_support.py                          # the local endpoint (make serve)
    python test_image_support.py --base-url URL           # any base URL of this worker
    RUNPOD_API_KEY=... python test_image_support.py --endpoint-id ID   # a RunPod endpoint

Each case below is one row of the table this prints: whether it passed, its latency, the time
to the first generated text of a stream, and the image tokens the model counted
(``usage.prompt_tokens_details.image_tokens``, SGLang's own count: above 0 proves the image
reached the model; for the video cases, ``video_tokens``; for the audio cases,
``audio_tokens``). The exit status is 0 when no case failed, 1 otherwise, 2 on bad usage.

A case for a medium the served model does not take (images or video for an audio model, audio
for a vision-language model: the worker answers "does not support ...") is shown as skipped,
with the reason, never as passed.

``--base-url`` takes the OpenAI base URL (``http://127.0.0.1:8000/openai/v1``); a URL without
``/v1`` at the end gets ``/openai/v1`` appended, so the endpoint's root works too.

Against the local endpoint (a loopback address) the URL image is served by a small HTTP server
this script starts on 127.0.0.1: the local worker runs with IMAGE_ALLOW_PRIVATE_URLS=true.
Against RunPod it uses a public image (``--image-url``). The pictures sent inline are drawn by
this script; only the ``openai`` package is needed, and ``anthropic`` for the Messages API case
(without it that case is shown as skipped, never as passed). The video clip is the one in
``test_input_with_video.json`` beside this script (2 s of 160x96 H.264), the recording the one
in ``test_input_with_audio.json`` (2 s of 16 kHz WAV).

RunPod's OpenAI route answers a failed request with HTTP 200 and the error in the body, where
the local endpoint answers with the error's HTTP status (so the SDK raises). The error cases
accept both and say which one they saw.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import OpenAI

LOCAL_BASE_URL = "http://127.0.0.1:8000/openai/v1"
PUBLIC_IMAGE_URL = ("https://upload.wikimedia.org/wikipedia/commons/thumb/4/47/"
                    "PNG_transparency_demonstration_1.png/280px-PNG_transparency_demonstration_1.png")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
REQUEST_LIMIT_BYTES = 20_000_000  # RunPod's /runsync limit, which the local OpenAI route keeps
MAX_TOKENS = 16


# --- Pictures, drawn with the standard library -------------------------------------------------
def png(width: int, height: int, shade: int = 0) -> bytes:
    """An RGB PNG with a colour gradient: a real picture, no Pillow needed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = b"".join(
        b"\x00" + bytes(value for x in range(width) for value in (
            (x * 255 // width + shade) % 256, y * 255 // height, (x ^ y) % 256))
        for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def serve_on_loopback(path: str, body: bytes) -> str:
    """Serve ``body`` at ``path`` from 127.0.0.1 in a background thread; returns its URL."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == path
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


# --- The cases ----------------------------------------------------------------------------------
class CheckFailed(Exception):
    pass


class CaseSkipped(Exception):
    """A case that cannot run here (its client package is missing, or the served model does
    not take its medium): shown, never a pass."""


# The worker's words for a medium the served model does not take, and what a skip says.
UNSUPPORTED = {"does not support vision": "the served model takes no images or video",
               "does not support audio": "the served model takes no audio"}


def unsupported(message: str) -> str | None:
    return next((why for words, why in UNSUPPORTED.items() if words in message), None)


def skip_if_unsupported(message: str) -> None:
    why = unsupported(message)
    if why:
        raise CaseSkipped(why)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass
class Outcome:
    """What a case reports besides pass/fail."""
    ttft_s: float | None = None
    image_tokens: int | None = None
    detail: str = ""


@dataclass
class Endpoint:
    client: OpenAI
    model: str
    image_url: str
    extra: dict[str, Any] = field(default_factory=dict)  # results later cases compare against


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def image_tokens(usage: Any, kind: str = "image") -> int | None:
    details = getattr(usage, "prompt_tokens_details", None)
    return getattr(details, f"{kind}_tokens", None)


def video(url: str) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": url}}


def sample_part(name: str, kind: str) -> dict[str, Any]:
    """The content part of type ``kind`` in the sample job ``name``, beside this script."""
    job = json.loads((Path(__file__).with_name(name)).read_text())
    parts = job["input"]["openai_input"]["messages"][0]["content"]
    return next(p for p in parts if p["type"] == kind)


def clip_data_url() -> str:
    """The clip of test_input_with_video.json."""
    return sample_part("test_input_with_video.json", "video_url")["video_url"]["url"]


def recording() -> dict[str, Any]:
    """The ``input_audio`` part of test_input_with_audio.json (a 16 kHz WAV)."""
    return sample_part("test_input_with_audio.json", "input_audio")


def chat(ep: Endpoint, *content: dict[str, Any], kind: str = "image") -> Outcome:
    response = ep.client.chat.completions.create(
        model=ep.model, messages=[{"role": "user", "content": list(content)}],
        max_tokens=MAX_TOKENS, temperature=0)
    check(response.object == "chat.completion", f"unexpected object {response.object!r}")
    check(bool(response.choices) and response.choices[0].finish_reason is not None,
          "the response has no finished choice")
    tokens = image_tokens(response.usage, kind)
    check(bool(tokens), f"usage reports {tokens} {kind} tokens: the {kind} did not reach the "
          "model")
    return Outcome(image_tokens=tokens, detail=repr(response.choices[0].message.content)[:40])


def chat_stream(ep: Endpoint, *content: dict[str, Any], kind: str = "image") -> Outcome:
    started = time.perf_counter()
    stream = ep.client.chat.completions.create(
        model=ep.model, messages=[{"role": "user", "content": list(content)}],
        max_tokens=MAX_TOKENS, temperature=0, stream=True,
        stream_options={"include_usage": True})
    first_chunk = first_text = None
    pieces, usage, finish = [], None, None
    for chunk in stream:
        now = time.perf_counter() - started
        first_chunk = first_chunk if first_chunk is not None else now
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                first_text = first_text if first_text is not None else now
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
    check(first_chunk is not None, "the stream sent no chunk")
    check(finish is not None, "the stream ended without a finish_reason")
    tokens = image_tokens(usage, kind)
    check(bool(tokens), f"usage reports {tokens} {kind} tokens: the {kind} did not reach the "
          "model")
    return Outcome(ttft_s=first_text if first_text is not None else first_chunk,
                   image_tokens=tokens, detail=f"{len(pieces)} text chunks")


def expect_error(ep: Endpoint, content: list[dict[str, Any]], error_class: type[Exception],
                 fragment: str, status: int | None = None) -> Outcome:
    """The request must fail with ``error_class`` (HTTP ``status``) and a message holding
    ``fragment``; RunPod's HTTP 200 with the error in the body is accepted too."""
    try:
        raw = ep.client.chat.completions.with_raw_response.create(
            model=ep.model, messages=[{"role": "user", "content": content}],
            max_tokens=MAX_TOKENS)
    except openai.APIStatusError as exc:
        skip_if_unsupported(exc.message)
        check(isinstance(exc, error_class), f"raised {type(exc).__name__} (HTTP "
              f"{exc.status_code}), expected {error_class.__name__}")
        check(status is None or exc.status_code == status,
              f"HTTP {exc.status_code}, expected {status}")
        check(fragment in exc.message, f"the message lacks {fragment!r}: {exc.message[:200]}")
        return Outcome(detail=f"{type(exc).__name__}: ...{fragment}...")
    body = raw.http_response.text
    skip_if_unsupported(body)
    check(fragment in body, f"no error: HTTP {raw.http_response.status_code} {body[:200]}")
    return Outcome(detail=f"HTTP {raw.http_response.status_code} with the error in the body")


def responses_tokens(ep: Endpoint, content: list[dict[str, Any]]) -> int:
    response = ep.client.responses.create(model=ep.model, max_output_tokens=MAX_TOKENS,
                                          input=[{"role": "user", "content": content}])
    check(response.object == "response", f"unexpected object {response.object!r}")
    check(response.status in ("completed", "incomplete"), f"status {response.status!r}")
    return response.usage.input_tokens


def case_responses(ep: Endpoint) -> Outcome:
    """OpenAI's Responses API: the Responses usage has no image count, so the image's tokens
    are what it adds to the same prompt without it."""
    question = {"type": "input_text", "text": "What is in this picture?"}
    with_image = responses_tokens(ep, [question, {"type": "input_image",
                                                  "image_url": data_url(png(200, 150, 40))}])
    added = with_image - responses_tokens(ep, [question])
    check(added > 0, f"the image added {added} input tokens: it did not reach the model")
    return Outcome(image_tokens=added, detail="input tokens added by the image")


def case_messages(ep: Endpoint) -> Outcome:
    """Anthropic's Messages API with the anthropic SDK (if installed), counted the same way."""
    try:
        import anthropic
    except ImportError:
        raise CaseSkipped("the anthropic package is not installed (pip install "
                          "anthropic)") from None
    base = str(ep.client.base_url).rstrip("/").removesuffix("/v1")
    key = ep.client.api_key
    # RunPod checks Authorization: Bearer; the SDK sends its key as x-api-key, so send both.
    claude = anthropic.Anthropic(base_url=base, api_key=key, timeout=ep.client.timeout,
                                 max_retries=0, default_headers={"Authorization": f"Bearer {key}"})
    picture = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                           "data": base64.b64encode(png(200, 150, 80)).decode()}}
    question = {"type": "text", "text": "What is in this picture?"}

    def tokens(*content: dict[str, Any]) -> int:
        try:
            message = claude.messages.create(model=ep.model, max_tokens=MAX_TOKENS,
                                             messages=[{"role": "user",
                                                        "content": list(content)}])
        except anthropic.APIStatusError as exc:
            skip_if_unsupported(str(exc))
            raise CheckFailed(f"{type(exc).__name__}: {exc}") from None
        check(message.type == "message", f"unexpected type {message.type!r}")
        return message.usage.input_tokens

    added = tokens(question, picture) - tokens(question)
    check(added > 0, f"the image added {added} input tokens: it did not reach the model")
    return Outcome(image_tokens=added, detail="input tokens added by the image")


def case_score(ep: Endpoint) -> Outcome:
    """SGLang's ``/v1/score``: the probability of each item's first token after the query, its
    label tokens found with ``/v1/tokenize``; with ``apply_softmax`` they sum to 1."""
    items = ["Paris", "London", "Berlin"]
    labels = []
    for item in items:
        tokens = ep.client.post("/tokenize", cast_to=object,
                                body={"prompt": item, "add_special_tokens": False})
        check(isinstance(tokens, dict) and bool(tokens.get("tokens")),
              f"tokenize answered {str(tokens)[:80]}")
        labels.append(tokens["tokens"][0])
    scores = ep.client.post("/score", cast_to=object, body={
        "query": "The capital of France is", "items": items, "label_token_ids": labels,
        "apply_softmax": True, "model": ep.model})
    check(isinstance(scores, dict) and len(scores.get("scores") or []) == len(items),
          f"score answered {str(scores)[:80]}")
    check(all(abs(sum(row) - 1.0) < 1e-4 for row in scores["scores"]),
          "the softmax scores of an item do not sum to 1")
    best = max(range(len(items)), key=lambda i: scores["scores"][i][i])
    return Outcome(detail=f"{len(items)} items scored; highest own-label score: {items[best]}")


def case_models(ep: Endpoint) -> Outcome:
    models = ep.client.models.list().data
    check(bool(models), "models.list() returned no model")
    return Outcome(detail=models[0].id[-40:])


def case_image_url(ep: Endpoint) -> Outcome:
    return chat(ep, text("What is in this picture?"), image(ep.image_url))


def case_image_base64(ep: Endpoint) -> Outcome:
    outcome = chat(ep, text("What is in this picture?"), image(data_url(png(256, 192))))
    ep.extra["one_image_tokens"] = outcome.image_tokens
    return outcome


def case_mixed(ep: Endpoint) -> Outcome:
    return chat(ep, text("Here is a picture:"), image(data_url(png(192, 160, 40))),
                text("Describe its colours."), text("Answer in one sentence."))


def case_several_images(ep: Endpoint) -> Outcome:
    outcome = chat(ep, text("Compare these pictures:"), image(data_url(png(256, 192))),
                   image(ep.image_url), text("and"), image(data_url(png(128, 128, 90))))
    one = ep.extra.get("one_image_tokens") or 0
    check((outcome.image_tokens or 0) > one,
          f"{outcome.image_tokens} image tokens for three images, {one} for one")
    return outcome


def case_stream_base64(ep: Endpoint) -> Outcome:
    return chat_stream(ep, text("Describe this picture."), image(data_url(png(256, 192))))


def case_stream_url(ep: Endpoint) -> Outcome:
    return chat_stream(ep, image(ep.image_url), text("What is this?"))


def case_corrupt_base64(ep: Endpoint) -> Outcome:
    return expect_error(ep, [text("What is this?"), image("data:image/png;base64,iVBOR%%%!!")],
                        openai.BadRequestError, "not valid base64", 400)


def case_unsupported_format(ep: Endpoint) -> Outcome:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    return expect_error(ep, [text("What is this?"), image(data_url(pdf, "image/png"))],
                        openai.BadRequestError, "detected PDF", 400)


def case_video_base64(ep: Endpoint) -> Outcome:
    response = ep.client.chat.completions.create(
        model=ep.model, max_tokens=MAX_TOKENS, temperature=0,
        messages=[{"role": "user", "content": [text("What happens?"), video(clip_data_url())]}])
    tokens = image_tokens(response.usage, "video")
    check(bool(tokens), f"usage reports {tokens} video tokens: the clip did not reach the model")
    return Outcome(image_tokens=tokens, detail="video tokens")


def case_video_not_a_video(ep: Endpoint) -> Outcome:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    return expect_error(ep, [text("What is this?"), video(data_url(pdf, "video/mp4"))],
                        openai.BadRequestError, "cannot be opened as a video", 400)


def case_audio_base64(ep: Endpoint) -> Outcome:
    return chat(ep, text("What is said in this recording?"), recording(), kind="audio")


def case_stream_audio_data_url(ep: Endpoint) -> Outcome:
    inline = recording()["input_audio"]
    url = f"data:audio/wav;base64,{inline['data']}"
    return chat_stream(ep, {"type": "audio_url", "audio_url": {"url": url}},
                       text("Transcribe it."), kind="audio")


def case_audio_not_audio(ep: Endpoint) -> Outcome:
    picture = base64.b64encode(png(32, 32)).decode()
    return expect_error(ep, [text("What is said?"),
                             {"type": "input_audio", "input_audio": {"data": picture,
                                                                     "format": "wav"}}],
                        openai.BadRequestError, "but the data is", 400)


def case_over_size_limit(ep: Endpoint) -> Outcome:
    """A request over 20 MB (a big base64 image): refused before it reaches the worker."""
    payload = base64.b64encode(os.urandom(REQUEST_LIMIT_BYTES * 3 // 4 + 500_000)).decode()
    return expect_error(ep, [text("What is this?"), image("data:image/png;base64," + payload)],
                        openai.APIStatusError, "limit", 413)


CASES: list[tuple[str, Callable[[Endpoint], Outcome]]] = [
    ("models.list()", case_models),
    ("image by URL", case_image_url),
    ("image as base64", case_image_base64),
    ("mixed text and image", case_mixed),
    ("several images in one message", case_several_images),
    ("streaming, image as base64", case_stream_base64),
    ("streaming, image by URL", case_stream_url),
    ("error: corrupt base64", case_corrupt_base64),
    ("error: unsupported format (PDF)", case_unsupported_format),
    ("error: over the size limit", case_over_size_limit),
    ("video as base64", case_video_base64),
    ("error: a PDF sent as video", case_video_not_a_video),
    ("audio as base64 (input_audio)", case_audio_base64),
    ("streaming, audio as a data URL", case_stream_audio_data_url),
    ("error: a PNG sent as WAV audio", case_audio_not_audio),
    ("Responses API, image as base64", case_responses),
    ("Anthropic Messages API, image as base64", case_messages),
    ("score: label-token probabilities (/v1/score)", case_score),
]


# --- Running them -------------------------------------------------------------------------------
@dataclass
class Row:
    case: str
    passed: bool | None  # None: skipped
    latency_s: float
    outcome: Outcome


def run_case(ep: Endpoint, name: str, case: Callable[[Endpoint], Outcome]) -> Row:
    started = time.perf_counter()
    try:
        outcome, passed = case(ep), True
    except CheckFailed as exc:
        outcome, passed = Outcome(detail=str(exc)), False
    except CaseSkipped as exc:
        outcome, passed = Outcome(detail=str(exc)), None
    except openai.APIError as exc:
        why = unsupported(str(exc))
        outcome = Outcome(detail=why or f"{type(exc).__name__}: {exc}")
        passed = None if why else False
    return Row(name, passed, time.perf_counter() - started, outcome)


def print_table(rows: list[Row]) -> None:
    header = ("case", "result", "latency", "ttft", "media tokens", "detail")
    lines = [header] + [(
        row.case, {True: "pass", False: "FAIL", None: "skipped"}[row.passed],
        f"{row.latency_s:.2f} s",
        f"{row.outcome.ttft_s:.2f} s" if row.outcome.ttft_s is not None else "-",
        str(row.outcome.image_tokens) if row.outcome.image_tokens is not None else "-",
        row.outcome.detail.replace("\n", " ")[:90]) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
              + "  " + line[-1])


def openai_base_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/openai/v1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--base-url", help=f"OpenAI base URL (default {LOCAL_BASE_URL})")
    target.add_argument("--endpoint-id", help="a RunPod endpoint id (needs RUNPOD_API_KEY)")
    parser.add_argument("--image-url", help="image URL for the URL cases (default: a loopback "
                        f"server for a local endpoint, else {PUBLIC_IMAGE_URL})")
    parser.add_argument("--model", help="model name (default: the first of models.list())")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    args = parser.parse_args(argv)

    api_key = os.environ.get("RUNPOD_API_KEY")
    if args.endpoint_id:
        if not api_key:
            parser.error("--endpoint-id needs RUNPOD_API_KEY in the environment")
        base_url = f"https://api.runpod.ai/v2/{args.endpoint_id}/openai/v1"
    else:
        base_url = openai_base_url(args.base_url or LOCAL_BASE_URL)
    local = urlsplit(base_url).hostname in LOOPBACK_HOSTS
    image_url = args.image_url or (serve_on_loopback("/picture.png", png(320, 240, 120))
                                   if local else PUBLIC_IMAGE_URL)
    client = OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY", "local"),
                    timeout=args.timeout, max_retries=0)
    print(f"endpoint: {base_url} ({'local' if local else 'remote'}); image URL: {image_url}")
    model = args.model
    try:
        listed = client.models.list().data
    except openai.APIConnectionError as exc:
        hint = ": is the local endpoint running (make serve)?" if local else ""
        print(f"cannot reach {base_url} ({exc}){hint}")
        return 1
    except openai.APIError:
        listed = []  # reported by the models.list() case below
    model = model or (listed[0].id if listed else "default")

    ep = Endpoint(client, model, image_url)
    rows = [run_case(ep, name, case) for name, case in CASES]
    print_table(rows)
    failed = [row.case for row in rows if row.passed is False]
    skipped = [row.case for row in rows if row.passed is None]
    passed = len(rows) - len(failed) - len(skipped)
    print(f"{passed} of {len(rows)} cases passed"
          + (f"; failed: {', '.join(failed)}" if failed else "")
          + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
