"""What the served model's audio feature extractor wants, as plain data: the sample rate and
the longest stretch of audio it reads. Pure; read once at start-up.

Contract:
- ``AudioRules(rate, window_s)``: mono audio at ``rate`` samples a second; ``window_s`` is the
  length the model's SGLang processor cuts every clip to, or None when it reads the whole clip.
- ``audio_rules(model_type, preprocessor)`` reads them from ``config.json``'s ``model_type`` and
  ``preprocessor_config.json`` (the feature extractor): ``sampling_rate`` (16 kHz when absent:
  SGLang's ``load_audio`` default) and, for a model whose processor truncates
  (``TRUNCATING``: Qwen2-Audio's fixed 30 s encoder window, ``chunk_length`` seconds), the
  window. Every other family (Whisper-style chunking encoders, Gemma-3n, Phi-4, Voxtral, ...)
  reads the whole clip, bounded only by MAX_AUDIO_SECONDS.
- Handing SGLang audio already at ``rate`` means its loader resamples nothing; cutting it to
  the window means the worker sends and SGLang decodes only what the model reads. The audio
  tokens stay the direct path's, because SGLang would cut the same stretch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_RATE = 16000
# model_type -> the feature extractor field holding the window, in seconds, that SGLang's
# processor for the family truncates to (qwen_audio.py forces truncation=True).
TRUNCATING = {"qwen2_audio": "chunk_length"}


@dataclass(frozen=True, slots=True)
class AudioRules:
    rate: int = DEFAULT_RATE
    window_s: float | None = None

    @property
    def window_samples(self) -> int | None:
        return round(self.window_s * self.rate) if self.window_s else None

    def describe(self) -> str:
        window = f"the first {self.window_s:g} s" if self.window_s else "the whole clip"
        return f"mono {self.rate} Hz, {window}"


def audio_rules(model_type: str | None, preprocessor: Mapping[str, Any] | None) -> AudioRules:
    """The rules for the served model (see the module contract)."""
    config = preprocessor or {}
    rate = config.get("sampling_rate")
    integral = isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0 \
        and float(rate).is_integer()
    rate = int(rate) if integral else DEFAULT_RATE
    window = None
    key = TRUNCATING.get(model_type or "")
    if key is not None:
        value = config.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            window = float(value)
    return AudioRules(rate, window)
