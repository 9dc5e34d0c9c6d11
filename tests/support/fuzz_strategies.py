"""Hypothesis strategies for hostile input: job shapes (chat, completions, /generate, the
Responses and Messages APIs), content parts, image bytes, base64, route spellings.

Every URL these strategies produce points at a loopback, private or otherwise refused address,
or uses a refused scheme, so a fuzzed request can never make the worker dial out: with the
private-address opt-in off, each one is refused before any connection.
"""

from __future__ import annotations

import base64

from hypothesis import strategies as st

from tests.support import image_corpus as corpus

SEEDS = [
    corpus.jpeg((48, 32)),
    corpus.png((40, 30)),
    corpus.rgba_png(alpha=100, size=(16, 16)),
    corpus.encode(corpus.picture((32, 24)), "GIF"),
    corpus.encode(corpus.picture((32, 24)), "WEBP"),
    corpus.encode(corpus.picture((32, 24)), "BMP"),
    corpus.png_bomb(),
]
ROUTES = ["/v1/chat/completions", "/v1/completions", "/v1/models", "/generate", "/health",
          "/shutdown", "/flush_cache", "/update_weights_from_disk", "/v1/embeddings", "",
          "/v1/chat/completions?x=1", "/openai/v1/chat/completions", "../../etc/passwd"]
# Spellings of a route that a client or server could resolve to another path (issue 10). Each
# must be refused as an invalid openai_route, never matched against the allowlist.
HOSTILE_ROUTES = [
    "/v1/models/../../flush_cache",
    "/v1/models/%2e%2e/%2e%2e/flush_cache",
    "/v1/models/%2E%2E/%2E%2E/release_memory_occupation",
    "/v1/models/..%2f..%2fflush_cache",
    "/v1/models/..%2F..%2Fflush_cache",
    "//flush_cache",
    "/v1/models/./../get_server_info",
    "/v1\\..\\flush_cache",
    "/v1/models/..%5c..%5cflush_cache",
    "/V1/Models/../../Flush_Cache",
    "/v1/models/.../flush_cache",
    "/v1/models/../../flush_cache/.",
    "/v1/models/%252e%252e/%252e%252e/flush_cache",
    "/v1/models/%2e%2e%00/flush_cache",
    "/v1/models/..\t/flush_cache",
    "/v1/models/x/%2e./%2e./%2e./flush_cache",
    "/v1/chat/completions/..",
    "/../shutdown",
    "/v1/models/%c0%ae%c0%ae/flush_cache",
    "/v1/models/\uff0e\uff0e/flush_cache",
]
_ROUTE_PIECES = ["v1", "models", "chat", "completions", "openai", "generate", "flush_cache",
                 "get_server_info", "FLUSH_CACHE", "Qwen", "..", ".", "...", "%2e%2e", "%2E",
                 "..%2f", "%2F", "%5c", "%252e", "%00", "\\", "", " ", "x.", "?q=1", "#"]
route_spellings = st.builds(
    lambda lead, pieces, sep: lead + sep.join(pieces),
    st.sampled_from(["/", "", "//", "\\"]),
    st.lists(st.sampled_from(_ROUTE_PIECES) | st.text(max_size=6), min_size=1, max_size=7),
    st.sampled_from(["/", "/", "\\", "%2f"]),
)
REFUSED_HOSTS = ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "[::1]", "10.0.0.1",
                 "169.254.169.254", "[::ffff:127.0.0.1]", "100.64.0.1", "0", "[fd00::1]"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


@st.composite
def mutated_image(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def image_text(draw) -> str:
    """An image as a user might send it: data URL, bare base64, URL or path, often broken."""
    raw = draw(mutated_image())
    encoded = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))(raw).decode()
    if draw(st.booleans()):
        encoded = encoded.rstrip("=")
    if draw(st.booleans()):
        encoded = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    mime = draw(st.sampled_from(["image/png", "image/jpeg", "image/webp", "text/html", ""]))
    return draw(st.sampled_from([
        f"data:{mime};base64,{encoded}",
        encoded,
        f"http://{draw(st.sampled_from(REFUSED_HOSTS))}/{draw(st.text(max_size=10))}",
        f"{draw(st.sampled_from(['ftp', 'file', 'gopher', 'javascript']))}://x/y",
        "/etc/passwd",
        draw(st.text(max_size=40)),
    ]))


content_parts = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=30)),
    st.builds(lambda u, d: {"type": "image_url", "image_url": {"url": u, "detail": d}},
              image_text(), st.sampled_from(["auto", "low", "high", None, 3])),
    st.builds(lambda u: {"type": "image_url", "image_url": u}, image_text()),
    st.builds(lambda u: {"type": "image", "image": u}, image_text()),
    # Video parts get the same hostile sources (an image, broken base64, paths, URLs), and
    # sampling wishes of any JSON type: each must end in a clip or a 400 naming the part.
    st.builds(lambda u, f: {"type": "video_url", "video_url": {"url": u, "fps": f}},
              image_text(), st.sampled_from([None, 1, 0.5, 0, -2, "fast", 10**9])),
    # Audio parts likewise: hostile sources, and a declared format of any JSON type.
    st.builds(lambda d, f: {"type": "input_audio", "input_audio": {"data": d, "format": f}},
              image_text() | json_values, st.sampled_from(["wav", "mp3", "MP3", "aiff", None,
                                                           3])),
    st.builds(lambda u: {"type": "audio_url", "audio_url": {"url": u}}, image_text()),
    st.builds(lambda t, v: {"type": t, t: v}, st.text(max_size=12), json_values),
    json_values,
)


@st.composite
def chat_body(draw) -> dict:
    messages = draw(st.lists(st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool", ""]) | json_scalars},
        optional={"content": st.text(max_size=40) | st.lists(content_parts, max_size=4)
                  | json_values}), max_size=3))
    body = {"messages": messages, "max_tokens": draw(st.sampled_from([1, 2, 4, -1, 10**7]))}
    body.update(draw(st.dictionaries(st.sampled_from(
        ["stream", "temperature", "model", "n", "stop", "logprobs", "response_format"]),
        json_values, max_size=3)))
    return body


@st.composite
def responses_body(draw) -> dict:
    """A Responses body: input items with text and image parts, often broken or stateful."""
    part = st.one_of(
        st.builds(lambda t: {"type": "input_text", "text": t}, st.text(max_size=20)),
        st.builds(lambda u, d: {"type": "input_image", "image_url": u, "detail": d},
                  image_text() | json_values, st.sampled_from(["auto", "low", "high", None, 7])),
        st.builds(lambda f: {"type": "input_image", "file_id": f}, st.text(max_size=8)),
        st.builds(lambda t, v: {"type": t, "file_url": v},
                  st.sampled_from(["input_file", "input_audio", "item_reference"]), json_values),
        json_values)
    item = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"])},
                                 optional={"content": st.lists(part, max_size=3) | st.text(
                                     max_size=20), "type": st.sampled_from(
                                     ["message", "function_call_output", "item_reference"])})
    body = {"input": draw(st.lists(item, max_size=3) | st.text(max_size=20) | json_values),
            "max_output_tokens": 2}
    body.update(draw(st.dictionaries(st.sampled_from(
        ["stream", "store", "previous_response_id", "background", "n"]), json_values,
        max_size=2)))
    return body


@st.composite
def messages_body(draw) -> dict:
    """An Anthropic Messages body: text and image blocks (base64, url, file), tool results."""
    source = st.one_of(
        st.builds(lambda d: {"type": "base64", "media_type": "image/png", "data": d},
                  image_text()),
        st.builds(lambda u: {"type": "url", "url": u}, image_text()),
        st.builds(lambda f: {"type": "file", "file_id": f}, st.text(max_size=8)),
        json_values)
    image = st.builds(lambda s: {"type": "image", "source": s}, source)
    block = st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=20)), image,
        st.builds(lambda c: {"type": "tool_result", "tool_use_id": "t", "content": c},
                  st.lists(image, max_size=2)),
        st.builds(lambda s: {"type": "document", "source": s}, source), json_values)
    messages = draw(st.lists(st.fixed_dictionaries({
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.lists(block, max_size=3) | st.text(max_size=20)}), max_size=2))
    return {"messages": messages, "max_tokens": draw(st.sampled_from([2, 0, -1, "x"]))}


@st.composite
def embeddings_body(draw) -> dict:
    """An embeddings body: text, token ids, or multimodal inputs with images (often broken or
    hostile), videos and raw embedding overrides."""
    item = st.fixed_dictionaries({}, optional={
        "text": st.text(max_size=20) | json_scalars, "image": image_text() | json_values,
        "video": st.sampled_from(["http://127.0.0.1/x.mp4", "/etc/hostname",
                                  "data:video/mp4;base64,AAAA"]) | json_values})
    body = {"input": draw(st.lists(item, max_size=3) | st.text(max_size=20)
                          | st.lists(st.integers(-2, 10**6), max_size=4) | json_values)}
    body.update(draw(st.dictionaries(st.sampled_from(
        ["model", "encoding_format", "dimensions", "embed_overrides", "lora_path", "rid"]),
        json_values, max_size=2)))
    return body


@st.composite
def rerank_body(draw) -> dict:
    """A rerank body: a query and documents, each text or a list of parts with images (often
    broken or hostile), videos, part types the worker refuses, and odd ``top_n`` values."""
    part = st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=10) | json_scalars),
        st.builds(lambda u: {"type": "image_url", "image_url": {"url": u}}, image_text()),
        st.builds(lambda u: {"type": "image_url", "image_url": u}, image_text() | json_values),
        st.builds(lambda u: {"type": "video_url", "video_url": {"url": u}}, st.sampled_from(
            ["http://127.0.0.1/x.mp4", "/etc/hostname", "data:video/mp4;base64,AAAA"])),
        st.builds(lambda t, v: {"type": t, t: v}, st.sampled_from(["image", "file", "audio_url"]),
                  image_text() | json_values),
    )
    content = st.text(max_size=20) | st.lists(part, max_size=3)
    body = {"query": draw(content | json_values),
            "documents": draw(st.lists(content, max_size=3) | json_values)}
    body.update(draw(st.dictionaries(st.sampled_from(
        ["top_n", "return_documents", "instruct", "stream", "model"]), json_values, max_size=2)))
    return body


NEWER_API_INPUTS = st.one_of(
    st.builds(lambda b: {"openai_route": "/v1/rerank", "openai_input": b}, rerank_body()),
    st.builds(lambda b: {"openai_route": "/v1/classify", "openai_input": {"input": b}},
              st.text(max_size=20) | st.lists(st.integers(-2, 10**6), max_size=4)
              | json_values),
    st.builds(lambda b: {"openai_route": "/v1/embeddings", "openai_input": b},
              embeddings_body()),
    st.builds(lambda b: {"openai_route": "/v1/responses", "openai_input": b}, responses_body()),
    st.builds(lambda r, b: {"openai_route": r, "openai_input": b},
              st.sampled_from(["/v1/messages", "/v1/messages/count_tokens",
                               "/openai/v1/messages"]), messages_body()),
)

job_inputs = st.one_of(
    NEWER_API_INPUTS,
    json_values,
    st.builds(lambda r, b: {"openai_route": r, "openai_input": b},
              st.sampled_from(ROUTES + HOSTILE_ROUTES) | route_spellings | st.text(max_size=20),
              chat_body() | json_values),
    chat_body(),
    st.builds(lambda p, extra: {"prompt": p, "max_tokens": 2, **extra},
              st.text(max_size=30) | json_values, st.dictionaries(st.text(max_size=6),
                                                                   json_values, max_size=2)),
    st.builds(lambda t, img: {"text": t, "image_data": img,
                              "sampling_params": {"max_new_tokens": 2}},
              st.text(max_size=30), image_text() | json_values),
)
