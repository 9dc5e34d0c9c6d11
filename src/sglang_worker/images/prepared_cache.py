"""A bounded in-memory cache of prepared images, keyed by a digest of their source: thread-safe.

Contract:
- A key is a digest of the source as received (``digest_text`` over the base64 text of an
  inline image, ``digest_bytes`` over the bytes of a downloaded or local file, with different
  prefixes so the two never meet) plus whatever else decides the result (the limits: the
  model's rules and the ``detail`` budget), so one photo asked for at two details is two
  entries.
- A value is any object with a ``cost`` in bytes (what it keeps alive). The least recently used
  entries go once the total passes ``capacity`` bytes; a value costing more than the capacity
  is not kept; capacity 0 keeps nothing.
- Content-addressed, so it is as safe for URLs as for inline data: a URL's bytes are downloaded
  every time (what a URL serves can change), and only the decoding and resizing of bytes seen
  before is skipped.
- Digests hash in slices of ``SLICE`` characters, so a thread hashing a large image lets the
  event loop have the GIL between slices (hashlib releases it while it hashes).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

SLICE = 1 << 20


class Costed(Protocol):
    @property
    def cost(self) -> int: ...


V = TypeVar("V", bound=Costed)


def digest_text(text: str, start: int = 0) -> bytes:
    """A digest of ``text[start:]`` (ASCII: base64 or percent-encoded data)."""
    h = hashlib.sha256(b"text:")
    for i in range(start, len(text), SLICE):
        h.update(text[i:i + SLICE].encode("ascii", "surrogateescape"))
    return h.digest()


def digest_bytes(data: bytes) -> bytes:
    """A digest of ``data`` (hashlib releases the GIL over large buffers)."""
    h = hashlib.sha256(b"bytes:")
    h.update(data)
    return h.digest()


class PreparedCache(Generic[V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        if value.cost > self.capacity:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._used -= old.cost
            self._entries[key] = value
            self._used += value.cost
            while self._used > self.capacity:
                _, dropped = self._entries.popitem(last=False)
                self._used -= dropped.cost

    @property
    def used(self) -> int:
        return self._used
