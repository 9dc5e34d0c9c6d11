"""A chat template given inline, as worker-vllm's users give it, turned into a file SGLang reads.

Contract: SGLang's ``--chat-template`` takes a template name or a file path; worker-vllm's
``CUSTOM_CHAT_TEMPLATE`` (read here as ``CHAT_TEMPLATE``, ``vllm_env``) takes the Jinja text.
``template_file(env, directory)`` returns the environment's changes: when ``CHAT_TEMPLATE``
holds Jinja (``{{``, ``{%`` or ``{#``, which no name or path here contains), the text is written
to ``<directory>/chat-template-<sha256 prefix>.jinja`` (written whole, then renamed, so a reader
never sees half of it; the ``.jinja`` suffix is what makes SGLang read it as Jinja) and the
variable becomes that path. Otherwise nothing changes. A template in ``SGLANG_ARGS`` is SGLang's
to read, as given.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

VARIABLE = "CHAT_TEMPLATE"
JINJA_MARKS = ("{{", "{%", "{#")


def is_inline_jinja(value: str) -> bool:
    return any(mark in value for mark in JINJA_MARKS)


def template_file(env: Mapping[str, str], directory: Path) -> dict[str, str]:
    text = env.get(VARIABLE, "")
    if not is_inline_jinja(text):
        return {}
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = directory / f"chat-template-{digest}.jinja"
    if not path.is_file():
        fd, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, path)
    return {VARIABLE: str(path)}
