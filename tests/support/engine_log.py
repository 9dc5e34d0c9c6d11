"""SGLang's own request log: the uvicorn access lines in the engine's output.

``requested_paths(lines)`` is every path SGLang says it was asked for, in order.
``served_between(read_lines, first, last)`` waits until SGLang has logged a request for
``last`` and returns the paths it served after the last request for ``first`` and before
that one. Tests use them to prove what did, and what did not, reach the engine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

_ACCESS = re.compile(r'"(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (\S+) HTTP/1\.[01]" \d{3}')


def requested_paths(lines: Iterable[str]) -> list[str]:
    return [match.group(1) for line in lines if (match := _ACCESS.search(line))]


def _between(paths: list[str], first: str, last: str) -> list[str]:
    end = len(paths) - 1 - paths[::-1].index(last)
    start = end - 1 - paths[:end][::-1].index(first)
    return paths[start + 1:end]


def served_between(read_lines: Callable[[], Iterable[str]], first: str, last: str,
                   timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _between(requested_paths(read_lines()), first, last)
        except ValueError:  # a marker is not logged yet
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"SGLang's log has no request for {first} followed by one for {last}"
                ) from None
            time.sleep(0.1)
