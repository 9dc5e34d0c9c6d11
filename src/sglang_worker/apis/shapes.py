"""Pydantic pieces that several API body models share.

- ``Open``: a body model that checks the fields it names and lets every other field through,
  since the worker forwards the body as it came and only checks its shape.
- ``TokenIds``: a list of token ids, or a list of such lists (a batch); strict, because
  pydantic would otherwise coerce ``false`` and ``1e16`` into ids and SGLang crashes on what it
  then receives.
- ``not_empty``: a prompt, or every prompt of a batch, must have something to tokenize:
  SGLang 0.5.23's scheduler crashes on a zero-token sequence and takes the whole engine down
  (found by fuzzing).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


TokenIds = list[StrictInt] | list[list[StrictInt]]
TOKEN_IDS = "a list of token ids or a list of lists of token ids"  # TokenIds, in words


def not_empty(value: Any) -> Any:
    if value is None:
        return value
    entries = value if isinstance(value, list) and value and not isinstance(value[0], int) \
        else [value]
    if any(len(entry) == 0 for entry in entries):
        raise ValueError("is empty: SGLang cannot generate from zero tokens")
    return value
