"""One module per API the worker serves; each is the one place that knows its body.

An API module holds its body model (shape only), the rules for every field SGLang reads from
it (``base.Rule``: plain, media, refused or dropped, with the reason), its content rules (which
content kinds it accepts and refuses, and why), where its media sit and how the vetted media go
back. The pipeline asks ``api_for(route)`` once and drives the ``Api`` it gets; the image
pipeline takes the parts the API hands it and knows nothing of body layouts. A new API is a new
module here and a line in ``APIS``; a new media kind touches each API module that carries it.

- ``chat``: ``/v1/chat/completions``          - ``completions``: ``/v1/completions``
- ``generate``: SGLang's ``/generate``         - ``responses``: ``/v1/responses``
- ``messages``: ``/v1/messages`` and ``/v1/messages/count_tokens`` (Anthropic)
- ``embeddings``: ``/v1/embeddings``           - ``tokenize``: ``/v1/tokenize``, ``/v1/detokenize``
- ``score``: SGLang's ``/v1/score``           - ``rerank``: SGLang's ``/v1/rerank``
- ``classify``: SGLang's ``/v1/classify``
- ``base``: the ``Api`` record, field rules and walk helpers; ``rules``: the field rules that
  several APIs share; ``shapes``: shared pydantic pieces.
"""

from __future__ import annotations

from sglang_worker.apis.base import Api, Rule
from sglang_worker.apis.chat import API as CHAT
from sglang_worker.apis.classify import API as CLASSIFY
from sglang_worker.apis.completions import API as COMPLETIONS
from sglang_worker.apis.embeddings import API as EMBEDDINGS
from sglang_worker.apis.generate import API as GENERATE
from sglang_worker.apis.messages import API as MESSAGES
from sglang_worker.apis.messages import COUNT_TOKENS_API as COUNT_TOKENS
from sglang_worker.apis.rerank import API as RERANK
from sglang_worker.apis.responses import API as RESPONSES
from sglang_worker.apis.score import API as SCORE
from sglang_worker.apis.tokenize import DETOKENIZE_API as DETOKENIZE
from sglang_worker.apis.tokenize import TOKENIZE_API as TOKENIZE

__all__ = ["APIS", "Api", "Rule", "api_for"]

APIS: tuple[Api, ...] = (CHAT, COMPLETIONS, GENERATE, RESPONSES, MESSAGES, COUNT_TOKENS,
                         EMBEDDINGS, TOKENIZE, DETOKENIZE, SCORE, RERANK, CLASSIFY)
_BY_ROUTE = {route: api for api in APIS for route in api.routes}


def api_for(route: str) -> Api | None:
    """The API served on a canonical inference route; None for a read route."""
    return _BY_ROUTE.get(route)
