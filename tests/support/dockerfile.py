"""The Dockerfile read as instructions, for tests that check the image without a Docker engine."""

from __future__ import annotations

import json

from tests.support.paths import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or (not current and not line.strip()):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    return [(keyword.upper(), rest.strip())
            for keyword, _, rest in (line.partition(" ") for line in logical)]


DOCKER = instructions(DOCKERFILE.read_text(encoding="utf-8"))


def exec_form(keyword: str) -> list[str]:
    """The JSON array of the Dockerfile's one ``CMD`` or ``ENTRYPOINT``."""
    (value,) = [rest for k, rest in DOCKER if k == keyword]
    return json.loads(value)
