"""What every child process the worker (or its development tools) starts shares.

Contract:
- ``die_with_parent`` runs in the child before exec (``preexec_fn``): the kernel sends it
  SIGTERM when its parent dies without cleaning up (``PR_SET_PDEATHSIG``), so no engine or
  worker outlives the process that started it. Linux fires it when the parent *thread* ends,
  so the thread that starts a child must live as long as the child should.
- ``OutputTail(lines)`` keeps the last ``lines`` lines of a child's output for error messages.
"""

from __future__ import annotations

import collections
import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class OutputTail:
    def __init__(self, lines: int) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)

    def add(self, line: str) -> None:
        self._lines.append(line)

    def text(self) -> str:
        return "\n".join(self._lines)
