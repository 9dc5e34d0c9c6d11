"""What must never reach a log line: secret values and their flags.

Contract:
- A secret is the value of an environment variable whose name has a word that says so (``KEY``,
  ``TOKEN``, ``SECRET``, ``PASSWORD``, ``CREDENTIAL(S)``: ``HF_TOKEN``, ``API_KEY``,
  ``AWS_SECRET_ACCESS_KEY`` ...; not ``TOKENIZER_NAME``) and is at least 6 characters long
  (shorter values would mask ordinary words).
- ``Redactor.line(text)`` replaces every secret value in a line of output with ``***``; the
  engine's output passes through it before it is copied to the worker's log.
- ``redact_argv(argv)`` masks the value after any ``--*key*``/``--*token*``/... flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET_WORDS = frozenset({"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "CREDENTIALS"})
MASK = "***"
_MIN_SECRET = 6


def is_secret_name(name: str) -> bool:
    """Whether a variable or flag name (``HF_TOKEN``, ``--api-key``) names a secret."""
    return not SECRET_WORDS.isdisjoint(re.split(r"[-_]+", name.strip("-").upper()))


class Redactor:
    def __init__(self, env: Mapping[str, str]):
        values = sorted({v for k, v in env.items() if is_secret_name(k)
                         and len(v) >= _MIN_SECRET}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def line(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


def redact_argv(argv: list[str]) -> list[str]:
    out: list[str] = []
    hide_next = False
    for token in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
        elif token.startswith("--") and is_secret_name(token.partition("=")[0]):
            name, eq, _ = token.partition("=")
            out.append(f"{name}={MASK}" if eq else token)
            hide_next = not eq
        else:
            out.append(token)
    return out
