"""SGLang's ``/v1/tokenize`` and ``/v1/detokenize``: text to token ids and back; no media.

Contract: tokenize takes a ``prompt`` or chat ``messages``; detokenize takes ``tokens``. Both
pass through under the field rules below. SGLang renders the chat template of tokenize's
messages and loads nothing they point at, but the messages follow chat's content rules and
their images, videos and audio go through the media pipelines all the same (``apis.chat``): no media
reaches SGLang unvetted, whether or not this release happens to load it.
"""

from __future__ import annotations

from sglang_worker.apis.base import Api, media, plain
from sglang_worker.apis.chat import MEDIA, check
from sglang_worker.routes import DETOKENIZE_ROUTE, TOKENIZE_ROUTE

_TEMPLATE = plain("chat template option; the template is rendered, nothing is loaded")
TOKENIZE_FIELDS = {
    "model": plain("the served model"),
    "prompt": plain("text to tokenize"),
    "messages": media("chat messages, under chat's content rules; media vetted"),
    "add_special_tokens": plain("tokenizer option"),
    **{name: _TEMPLATE for name in ("add_generation_prompt", "chat_template_kwargs",
                                    "continue_final_message", "reasoning_effort",
                                    "tool_choice", "tools")},
}
DETOKENIZE_FIELDS = {
    "model": plain("the served model"),
    "tokens": plain("token ids to turn back into text"),
    "skip_special_tokens": plain("tokenizer option"),
}

TOKENIZE_API = Api(
    name="tokenize", routes=(TOKENIZE_ROUTE,), body_model=None, fields=TOKENIZE_FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:TokenizeRequest",),
    check=check, media=MEDIA, streams=False,
)
DETOKENIZE_API = Api(
    name="detokenize", routes=(DETOKENIZE_ROUTE,), body_model=None, fields=DETOKENIZE_FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:DetokenizeRequest",),
    streams=False,
)
