"""Build a tiny, randomly initialised Qwen2-VL (or Qwen2, or Qwen2-Audio) checkpoint, offline.

Why this exists: the tests run the real SGLang server on a CPU, and no model may be downloaded.
The model's text is noise; it exists so that a request takes SGLang's real path (chat template,
image processor, vision tower, scheduler, streaming), and so that
``usage.prompt_tokens_details.image_tokens > 0`` proves an image reached the model
(``audio_tokens > 0`` an audio clip, with ``--audio``).

What it writes (about 0.5 MB, in the layout of the published Qwen2-VL checkpoints):
- ``config.json``: flat, text fields at the top level, ``vision_config.in_chans`` (SGLang reads
  it; transformers 5's own ``save_pretrained`` layout lacks it). Text: 64 wide, 2 layers, 4 heads,
  2 KV heads, head_dim 16, mrope sections [2, 3, 3]. Vision: 32 wide, 2 blocks, 2 heads,
  patch 14, merge 2.
- ``model.safetensors``: bfloat16 weights named ``model.*``, ``visual.*`` and ``lm_head.*``.
- ``tokenizer.json`` and ``tokenizer_config.json``: a byte-level BPE trained here on a small corpus
  with Qwen2's pre-tokenizer, plus the 14 Qwen2-VL special tokens; the Qwen2-VL chat template.
- ``preprocessor_config.json`` with min_pixels 56*56 and max_pixels 112*112, so that an image
  costs 4 to 16 image tokens; ``chat_template.json`` for the processor; ``generation_config.json``.
- ``tiny_model_build.json``: the build stamp (builder hash, library versions, file hashes).
With ``--text-only`` (``vision=False``) it writes a text-only Qwen2 instead, for testing the
"model does not support vision" path.
With ``--reranker`` (``variant="qwen2-vl-reranker"``) it writes the Qwen2-VL with a multimodal
reranker chat template instead (the query, document and instruction rendered with vision
placeholders and the "yes" or "no" judgement that SGLang's ``/v1/rerank`` detects), and a
tokenizer that holds ``yes`` and ``no`` as single tokens, which SGLang scores with. With
``--classifier`` (``variant="qwen2-classifier"``) it writes a ``Qwen2ForSequenceClassification``
(the same text model, a 3-label ``score`` head, ``id2label`` negative/neutral/positive, no
``lm_head``) for ``/v1/classify`` and cross-encoder ``/v1/rerank``, served with ``--is-embedding``.
With ``--audio`` (``audio=True``; ``vision`` is then not read) it writes a Qwen2-Audio instead
(``Qwen2AudioForConditionalGeneration``, about 0.5 MB), in the published nested layout:
- ``config.json``: model_type ``qwen2_audio``, ``text_config`` (the same text model as above,
  model_type ``qwen2``), ``audio_config`` (a Whisper-style encoder: 128 mel bins, 32 wide,
  2 layers, 2 heads; ``max_source_positions`` stays 1500, since the tower only takes exactly
  3000 mel frames, one 30 s window) and ``audio_token_index``.
- ``model.safetensors``: weights named ``language_model.model.*``, ``language_model.lm_head.*``,
  ``audio_tower.*`` and ``multi_modal_projector.*``, the names SGLang's ``load_weights`` reads.
- the tokenizer with Qwen2-Audio's 6 special tokens (``<|endoftext|>``, ``<|im_start|>``,
  ``<|im_end|>``, ``<|AUDIO|>``, ``<|audio_bos|>``, ``<|audio_eos|>``) and a chat template that
  renders each audio part (``audio``, ``audio_url``, or the bare ``{"type": "audio"}`` that
  SGLang turns ``audio_url`` parts into) as ``Audio N: <|audio_bos|><|AUDIO|><|audio_eos|>``.
- ``preprocessor_config.json``: the real WhisperFeatureExtractor settings of Qwen2-Audio (128 mel
  bins, 16 kHz, 30 s chunks, hop 160, n_fft 400, attention mask on), so a clip of s seconds
  costs about 25*s audio tokens, capped at 750 for 30 s and more; ``processor_config.json`` and
  ``chat_template.json`` for ``AutoProcessor`` (``Qwen2AudioProcessor``).

Contract: deterministic (fixed seed, sorted JSON: two builds are byte-identical), idempotent (a
complete build by the same builder and libraries is left alone), atomic (built in a temporary
directory and renamed, so an interrupted build never leaves half a model), and it refuses to
replace a non-empty directory that it did not build.

Usage: python -m tiny_models.build --out DIR [--text-only | --audio | --reranker | --classifier]
(prints DIR last; ``make models``)

It imports torch and transformers. The worker never imports or runs it: a CPU run without
``MODEL_NAME`` serves the model it finds at ``TINY_MODEL_DIR``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

STAMP_NAME = "tiny_model_build.json"
SEED = 20240917
BPE_VOCAB_SIZE = 498  # byte alphabet plus merges; with the 14 (6 audio) special tokens: 512 (504)
# ids; the embedding is padded to a multiple of 64, 512 rows either way
MAX_CONTEXT = 4096

TEXT = {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 16, "mlp": 128}
AUDIO = {
    "width": 32,
    "layers": 2,
    "heads": 2,
    "ffn": 128,
    "mel_bins": 128,
    "max_source_positions": 1500,  # 3000 mel frames after the stride-2 conv: one 30 s window
}
VISION = {
    "width": 32,
    "blocks": 2,
    "heads": 2,
    "mlp_ratio": 4,
    "patch": 14,
    "merge": 2,
    "temporal_patch": 2,
    "in_chans": 3,
}

SPECIAL_TOKENS = (  # Qwen2-VL's, also the text-only variant's
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
AUDIO_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|AUDIO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
)

# Qwen2's pre-tokenizer split: contractions, letter runs, single digits, punctuation, spaces.
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

CORPUS = """\
You are a helpful assistant. Describe the image in one sentence.
What is in this picture? The picture shows a red square on a white background.
There is a blue circle, a green triangle and a yellow star next to each other.
The cat sits on the mat near the window, and the dog sleeps under the table.
Please answer the question briefly: how many objects can you see in the photo?
I can see three objects: a small box, a large ball and a long stick.
The weather today is sunny with a few clouds; tomorrow it will rain in the city.
Count from one to ten: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10. Then add 42 and 17 to get 59.
def add(a, b):
    return a + b
{"name": "tiny", "role": "user", "content": [{"type": "text", "text": "hello"}]}
Hello! How can I help you today? Thank you very much, that was useful.
The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
Images are split into patches, and the patches are merged before the language model reads them.
A streaming response sends one event per token, and the last event says why it stopped.
"""

QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# The published Qwen2-Audio-7B-Instruct template, which matches parts with an ``audio`` or
# ``audio_url`` key, plus parts typed ``audio``: SGLang turns each ``audio_url`` part into a bare
# ``{"type": "audio"}`` before it renders the template.
QWEN2_AUDIO_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# A multimodal reranker template in the form SGLang's /v1/rerank renders (``query`` and
# ``document`` as lists of text, image and video parts, ``instruct`` optional): the yes/no
# phrase and the vision tokens are what SGLang detects it by (serving_rerank).
RERANKER_CHAT_TEMPLATE = (
    "{% macro parts(content) %}{% for part in content %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endmacro %}"
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n<Instruct>: {{ instruct | default('Given a query, retrieve relevant "
    "documents.') }}\n<Query>: {{ parts(query) }}\n<Document>: {{ parts(document) }}"
    "<|im_end|>\n<|im_start|>assistant\n"
)
# Lines that make ``yes`` and ``no`` single tokens of the reranker's vocabulary.
RERANKER_CORPUS = "yes\nno\n" * 40

CLASSIFIER_LABELS = ("negative", "neutral", "positive")

# ChatML as Qwen2 uses it; content may be a string or a list of text parts.
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if 'text' in part %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


VARIANTS = ("qwen2-vl", "qwen2", "qwen2-audio", "qwen2-vl-reranker", "qwen2-classifier")


def build_tiny_model(out: Path, *, vision: bool = True, audio: bool = False,
                     variant: str | None = None) -> Path:
    """Build the model into ``out`` unless it already holds this exact build; return ``out``.
    ``audio=True`` builds the Qwen2-Audio variant (``vision`` is then not read); ``variant``
    (one of ``VARIANTS``) names any variant and wins over both."""
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    variant = variant or ("qwen2-audio" if audio else "qwen2-vl" if vision else "qwen2")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return build_atomically(out, _build_key(variant),
                            lambda staging: _write_model(staging, variant))


def build_atomically(out: Path, expected: dict, write: Callable[[Path], None]) -> Path:
    """Run ``write`` into a staging directory beside ``out``, stamp it with ``expected`` and the
    files' hashes, and rename it to ``out``; nothing when ``out`` already holds that build, a
    ``FileExistsError`` when ``out`` holds something this builder did not make."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out.parent):
        if _is_complete_build(out, expected):
            return out
        if out.exists() and any(out.iterdir()) and not (out / STAMP_NAME).exists():
            raise FileExistsError(f"{out} is not empty and was not made by the tiny-model "
                                  "builder")
        for stale in out.parent.glob(f".{out.name}.building-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
        try:
            write(staging)
            files = {p.name: _sha256(p) for p in sorted(staging.iterdir())}
            _write_json(staging / STAMP_NAME, {**expected, "files": files})
            _make_readable(staging)
            _replace_dir(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _build_key(variant: str) -> dict:
    """What a build depends on; read without importing torch, so that a no-op run is fast."""
    return {
        "builder_sha256": _sha256(Path(__file__)),
        "variant": variant,
        "versions": {name: version(name) for name in ("safetensors", "tokenizers", "torch")},
    }


def _is_complete_build(out: Path, expected: dict) -> bool:
    try:
        stamp = json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    files = stamp.pop("files", None)
    if stamp != expected or not isinstance(files, dict):
        return False
    present = {p.name for p in out.iterdir()} - {STAMP_NAME}
    return present == set(files) and all(_sha256(out / n) == h for n, h in files.items())


def _write_model(directory: Path, variant: str) -> None:
    audio, vision = variant == "qwen2-audio", variant in ("qwen2-vl", "qwen2-vl-reranker")
    special = AUDIO_SPECIAL_TOKENS if audio else SPECIAL_TOKENS
    reranker = variant == "qwen2-vl-reranker"
    tokenizer = _train_tokenizer(special, RERANKER_CORPUS if reranker else "")
    ids = {token: tokenizer.token_to_id(token) for token in special}
    vocab_size = -(-tokenizer.get_vocab_size(with_added_tokens=True) // 64) * 64
    if audio:
        config, template = _qwen2_audio_config(vocab_size, ids), QWEN2_AUDIO_CHAT_TEMPLATE
    elif vision:
        config = _qwen2_vl_config(vocab_size, ids)
        template = RERANKER_CHAT_TEMPLATE if reranker else QWEN2_VL_CHAT_TEMPLATE
    elif variant == "qwen2-classifier":
        config, template = _qwen2_classifier_config(vocab_size, ids), QWEN2_CHAT_TEMPLATE
    else:
        config, template = _qwen2_config(vocab_size, ids), QWEN2_CHAT_TEMPLATE

    _write_json(directory / "config.json", config)
    _write_json(
        directory / "generation_config.json",
        {
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
            "pad_token_id": ids["<|endoftext|>"],
        },
    )
    _write_json(directory / "tokenizer.json", json.loads(tokenizer.to_str()))
    _write_json(directory / "tokenizer_config.json", _tokenizer_config(ids, template))
    if vision:
        _write_json(directory / "preprocessor_config.json", _preprocessor_config())
        _write_json(directory / "chat_template.json", {"chat_template": template})
    if audio:
        _write_json(directory / "preprocessor_config.json", _audio_preprocessor_config())
        _write_json(directory / "processor_config.json", _audio_processor_config())
        _write_json(directory / "chat_template.json", {"chat_template": template})
        _write_weights(directory / "model.safetensors", _audio_weight_shapes(vocab_size))
    elif variant == "qwen2-classifier":
        _write_weights(directory / "model.safetensors", _classifier_weight_shapes(vocab_size))
    else:
        judges = (tokenizer.token_to_id("yes"), tokenizer.token_to_id("no")) if reranker \
            else None
        _write_weights(directory / "model.safetensors", _weight_shapes(vocab_size, vision),
                       judges)


def _train_tokenizer(special_tokens: tuple[str, ...], extra_corpus: str = ""):
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )

    tokenizer = Tokenizer(models.BPE(byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator((CORPUS + extra_corpus).splitlines(keepends=True),
                                  trainer=trainer)
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in special_tokens]
    )
    return tokenizer


def _text_fields(vocab_size: int, ids: dict[str, int]) -> dict:
    return {
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "hidden_act": "silu",
        "hidden_size": TEXT["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": TEXT["mlp"],
        "max_position_embeddings": MAX_CONTEXT,
        "max_window_layers": TEXT["layers"],
        "num_attention_heads": TEXT["heads"],
        "num_hidden_layers": TEXT["layers"],
        "num_key_value_heads": TEXT["kv_heads"],
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": MAX_CONTEXT,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


def _qwen2_config(vocab_size: int, ids: dict[str, int]) -> dict:
    return {
        **_text_fields(vocab_size, ids),
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
    }


def _qwen2_classifier_config(vocab_size: int, ids: dict[str, int]) -> dict:
    return {
        **_text_fields(vocab_size, ids),
        "architectures": ["Qwen2ForSequenceClassification"],
        "model_type": "qwen2",
        "id2label": dict(enumerate(CLASSIFIER_LABELS)),
        "label2id": {label: i for i, label in enumerate(CLASSIFIER_LABELS)},
        "num_labels": len(CLASSIFIER_LABELS),
    }


def _qwen2_vl_config(vocab_size: int, ids: dict[str, int]) -> dict:
    assert TEXT["hidden"] == TEXT["heads"] * TEXT["head_dim"]
    return {
        **_text_fields(vocab_size, ids),
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "model_type": "qwen2_vl",
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "vision_token_id": ids["<|vision_pad|>"],
        "rope_scaling": {"mrope_section": [2, 3, 3], "type": "mrope"},
        "vision_config": {
            "depth": VISION["blocks"],
            "embed_dim": VISION["width"],
            "hidden_size": TEXT["hidden"],
            "in_chans": VISION["in_chans"],
            "mlp_ratio": VISION["mlp_ratio"],
            "num_heads": VISION["heads"],
            "patch_size": VISION["patch"],
            "spatial_merge_size": VISION["merge"],
            "spatial_patch_size": VISION["patch"],
            "temporal_patch_size": VISION["temporal_patch"],
        },
    }


def _qwen2_audio_config(vocab_size: int, ids: dict[str, int]) -> dict:
    """The nested layout of the published Qwen2-Audio checkpoints."""
    return {
        "architectures": ["Qwen2AudioForConditionalGeneration"],
        "audio_config": {
            "activation_dropout": 0.0,
            "activation_function": "gelu",
            "attention_dropout": 0.0,
            "d_model": AUDIO["width"],
            "dropout": 0.0,
            "encoder_attention_heads": AUDIO["heads"],
            "encoder_ffn_dim": AUDIO["ffn"],
            "encoder_layerdrop": 0.0,
            "encoder_layers": AUDIO["layers"],
            "initializer_range": 0.02,
            "max_source_positions": AUDIO["max_source_positions"],
            "model_type": "qwen2_audio_encoder",
            "num_mel_bins": AUDIO["mel_bins"],
            "scale_embedding": False,
        },
        "audio_token_index": ids["<|AUDIO|>"],
        "ignore_index": -100,
        "model_type": "qwen2_audio",
        "text_config": {**_text_fields(vocab_size, ids), "model_type": "qwen2"},
        "torch_dtype": "bfloat16",
        "vocab_size": vocab_size,
    }


def _tokenizer_config(ids: dict[str, int], chat_template: str) -> dict:
    return {
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(ids[t]): {
                "content": t,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for t in ids
        },
        "additional_special_tokens": list(ids)[1:],
        "bos_token": None,
        "chat_template": chat_template,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": MAX_CONTEXT,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def _preprocessor_config() -> dict:
    min_pixels, max_pixels = 56 * 56, 112 * 112
    return {
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "Qwen2VLImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "max_pixels": max_pixels,
        "merge_size": VISION["merge"],
        "min_pixels": min_pixels,
        "patch_size": VISION["patch"],
        "processor_class": "Qwen2VLProcessor",
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"longest_edge": max_pixels, "shortest_edge": min_pixels},
        "temporal_patch_size": VISION["temporal_patch"],
    }


def _audio_preprocessor_config() -> dict:
    """Qwen2-Audio's WhisperFeatureExtractor, as published: 30 s windows of 128 mel bins."""
    sampling_rate, chunk_length, hop_length = 16000, 30, 160
    return {
        "chunk_length": chunk_length,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": AUDIO["mel_bins"],
        "hop_length": hop_length,
        "n_fft": 400,
        "n_samples": chunk_length * sampling_rate,
        "nb_max_frames": chunk_length * sampling_rate // hop_length,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "Qwen2AudioProcessor",
        "return_attention_mask": True,
        "sampling_rate": sampling_rate,
    }


def _audio_processor_config() -> dict:
    return {
        "audio_bos_token": "<|audio_bos|>",
        "audio_eos_token": "<|audio_eos|>",
        "audio_token": "<|AUDIO|>",
        "processor_class": "Qwen2AudioProcessor",
    }


def _text_weight_shapes(vocab_size: int, prefix: str = "") -> dict[str, tuple[int, ...]]:
    h, mlp = TEXT["hidden"], TEXT["mlp"]
    q, kv = TEXT["heads"] * TEXT["head_dim"], TEXT["kv_heads"] * TEXT["head_dim"]
    shapes: dict[str, tuple[int, ...]] = {
        prefix + "model.embed_tokens.weight": (vocab_size, h),
        prefix + "model.norm.weight": (h,),
        prefix + "lm_head.weight": (vocab_size, h),
    }
    for i in range(TEXT["layers"]):
        p = f"{prefix}model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (q, h),
            p + "self_attn.q_proj.bias": (q,),
            p + "self_attn.k_proj.weight": (kv, h),
            p + "self_attn.k_proj.bias": (kv,),
            p + "self_attn.v_proj.weight": (kv, h),
            p + "self_attn.v_proj.bias": (kv,),
            p + "self_attn.o_proj.weight": (h, q),
            p + "mlp.gate_proj.weight": (mlp, h),
            p + "mlp.up_proj.weight": (mlp, h),
            p + "mlp.down_proj.weight": (h, mlp),
            p + "input_layernorm.weight": (h,),
            p + "post_attention_layernorm.weight": (h,),
        }
    return shapes


def _classifier_weight_shapes(vocab_size: int) -> dict[str, tuple[int, ...]]:
    shapes = _text_weight_shapes(vocab_size)
    del shapes["lm_head.weight"]
    return shapes | {"score.weight": (len(CLASSIFIER_LABELS), TEXT["hidden"])}


def _weight_shapes(vocab_size: int, vision: bool) -> dict[str, tuple[int, ...]]:
    """Every tensor of the published checkpoint layout, by name."""
    h = TEXT["hidden"]
    shapes = _text_weight_shapes(vocab_size)
    if not vision:
        return shapes
    w, merged = VISION["width"], VISION["width"] * VISION["merge"] ** 2
    vmlp = w * VISION["mlp_ratio"]
    shapes["visual.patch_embed.proj.weight"] = (
        w,
        VISION["in_chans"],
        VISION["temporal_patch"],
        VISION["patch"],
        VISION["patch"],
    )
    for i in range(VISION["blocks"]):
        p = f"visual.blocks.{i}."
        shapes |= {
            p + "norm1.weight": (w,),
            p + "norm1.bias": (w,),
            p + "norm2.weight": (w,),
            p + "norm2.bias": (w,),
            p + "attn.qkv.weight": (3 * w, w),
            p + "attn.qkv.bias": (3 * w,),
            p + "attn.proj.weight": (w, w),
            p + "attn.proj.bias": (w,),
            p + "mlp.fc1.weight": (vmlp, w),
            p + "mlp.fc1.bias": (vmlp,),
            p + "mlp.fc2.weight": (w, vmlp),
            p + "mlp.fc2.bias": (w,),
        }
    shapes |= {
        "visual.merger.ln_q.weight": (w,),
        "visual.merger.ln_q.bias": (w,),
        "visual.merger.mlp.0.weight": (merged, merged),
        "visual.merger.mlp.0.bias": (merged,),
        "visual.merger.mlp.2.weight": (h, merged),
        "visual.merger.mlp.2.bias": (h,),
    }
    return shapes


def _audio_weight_shapes(vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of the published Qwen2-Audio layout, by name (the audio tower is
    transformers' ``Qwen2AudioEncoder``: no bias on ``k_proj``)."""
    w, ffn, mels = AUDIO["width"], AUDIO["ffn"], AUDIO["mel_bins"]
    shapes = _text_weight_shapes(vocab_size, prefix="language_model.")
    shapes |= {
        "audio_tower.conv1.weight": (w, mels, 3),
        "audio_tower.conv1.bias": (w,),
        "audio_tower.conv2.weight": (w, w, 3),
        "audio_tower.conv2.bias": (w,),
        "audio_tower.embed_positions.weight": (AUDIO["max_source_positions"], w),
        "audio_tower.layer_norm.weight": (w,),
        "audio_tower.layer_norm.bias": (w,),
        "multi_modal_projector.linear.weight": (TEXT["hidden"], w),
        "multi_modal_projector.linear.bias": (TEXT["hidden"],),
    }
    for i in range(AUDIO["layers"]):
        p = f"audio_tower.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (w, w),
            p + "self_attn.q_proj.bias": (w,),
            p + "self_attn.k_proj.weight": (w, w),
            p + "self_attn.v_proj.weight": (w, w),
            p + "self_attn.v_proj.bias": (w,),
            p + "self_attn.out_proj.weight": (w, w),
            p + "self_attn.out_proj.bias": (w,),
            p + "self_attn_layer_norm.weight": (w,),
            p + "self_attn_layer_norm.bias": (w,),
            p + "fc1.weight": (ffn, w),
            p + "fc1.bias": (ffn,),
            p + "fc2.weight": (w, ffn),
            p + "fc2.bias": (w,),
            p + "final_layer_norm.weight": (w,),
            p + "final_layer_norm.bias": (w,),
        }
    return shapes


def _write_weights(path: Path, shapes: dict[str, tuple[int, ...]],
                   judge_ids: tuple[int, int] | None = None) -> None:
    """Norm scales 1, biases 0, everything else N(0, 0.02), drawn in sorted name order.

    With ``judge_ids`` (the reranker's ``yes`` and ``no`` tokens), every token embedding gets a
    constant 1.0 in its first dimension, which then dominates the normalised hidden state, and
    the two judge rows of ``lm_head`` read it (1.0) plus noise of scale 1 elsewhere: so both
    words are always among SGLang's top 50 first tokens, and the score between them still
    varies with the input."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(SEED)
    tensors = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name.endswith(".bias"):
            value = torch.zeros(shape)
        elif "norm" in name or "ln_q" in name:
            value = torch.ones(shape)
        else:
            value = torch.randn(shape, generator=generator) * 0.02
        tensors[name] = value
    if judge_ids is not None:
        tensors["model.embed_tokens.weight"][:, 0] = 1.0
        for token in judge_ids:
            tensors["lm_head.weight"][token] = torch.randn(
                shapes["lm_head.weight"][1], generator=generator)
            tensors["lm_head.weight"][token, 0] = 1.0
    tensors = {name: value.to(torch.bfloat16).contiguous() for name, value in tensors.items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def _write_json(path: Path, obj: object) -> None:
    path.write_text(
        json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make_readable(directory: Path) -> None:
    # mkdtemp creates 0700 and safetensors writes 0600; a model directory is shared read-only.
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; there is never a partly written directory at ``target``."""
    if not target.exists():
        new.rename(target)
        return
    old = new.with_name(new.name + "-old")
    target.rename(old)
    new.rename(target)
    shutil.rmtree(old)


@contextmanager
def _lock(directory: Path) -> Iterator[None]:
    """Serialise builds into the same parent directory (a lock on the directory itself)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to build into")
    variant = parser.add_mutually_exclusive_group()
    variant.add_argument(
        "--text-only", action="store_true", help="build a text-only Qwen2 instead of Qwen2-VL"
    )
    variant.add_argument(
        "--audio", action="store_true", help="build a Qwen2-Audio instead of Qwen2-VL"
    )
    variant.add_argument("--reranker", action="store_true",
                         help="build the Qwen2-VL with a multimodal reranker chat template")
    variant.add_argument("--classifier", action="store_true",
                         help="build a Qwen2 sequence classifier (3 labels)")
    args = parser.parse_args(argv)
    named = "qwen2-vl-reranker" if args.reranker else "qwen2-classifier" if args.classifier \
        else None
    print(build_tiny_model(args.out, vision=not args.text_only, audio=args.audio,
                           variant=named))
    return 0


if __name__ == "__main__":
    sys.exit(main())
