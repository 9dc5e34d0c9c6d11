"""Where an image string points, and the bytes of the sources that need no network.

Contract:
- ``classify(text)`` tells the four sources apart, in this order:
  1. ``data:`` URL (any case): base64 or percent-encoded; the declared MIME type is ignored,
     since the bytes are sniffed later.
  2. ``http://`` / ``https://`` URL: fetched by ``fetch``.
  3. ``file:`` URL, or an absolute path: a local file. A string that starts with ``/`` is a path
     unless its first bytes, base64-decoded, are a recognised format: base64 JPEG starts with
     ``/9j/``.
  4. Anything else that looks like base64 is bare base64. Other URL schemes, relative paths and
     free text are refused.
  ``classify`` looks at no more than a short prefix, so it is cheap on a 20 MB string.
- ``decode_inline`` decodes once, in the image thread pool. It accepts whitespace and line
  breaks, the URL-safe alphabet, missing padding and percent-encoding. It also reports whether
  the payload was already canonical base64, so an unchanged image can be handed over without
  being encoded again.
- ``read_local_file`` (blocking; run in the pool) reads only below ``IMAGE_LOCAL_DIR``: symlinks
  are resolved before the containment check, only regular files are read, and never more than
  the per-image byte limit.
"""

from __future__ import annotations

import binascii
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import sglang_worker.images.base64_slices as base64_slices
from sglang_worker.errors import MediaPartError, media_error
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.format import UNKNOWN, detect_format


@dataclass(frozen=True, slots=True)
class RemoteSource:
    url: str


@dataclass(frozen=True, slots=True)
class InlineSource:
    text: str  # the whole string as sent, reused when the image passes through unchanged
    payload_start: int  # where the data begins: after a data URL's comma, 0 for bare base64
    is_base64: bool

    @property
    def payload(self) -> str:
        """The data without any ``data:`` header. Slicing copies, so this is only called in
        the pool, where the payload is decoded."""
        return self.text[self.payload_start:]


@dataclass(frozen=True, slots=True)
class LocalSource:
    path: str  # a file: URL or an absolute path, checked by read_local_file


Source = RemoteSource | InlineSource | LocalSource

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BASE64_PREFIX = re.compile(r"^[A-Za-z0-9+/_\-=\s]+$")
_SNIFF_CHARS = 64  # decodes to 48 bytes: enough for every magic number format.py knows
# Decoded prefixes that say "this was never base64": a path decodes to noise or text.
_NOT_A_FORMAT = frozenset({UNKNOWN, "text", "blank text"})


def classify(text: str, noun: str = "image") -> Source:
    """Which kind of source ``text`` is (see the module contract); ``noun`` names the medium
    in errors."""
    text = text.strip()
    if not text:
        raise media_error(noun, f"{noun} is an empty string")
    lowered = text[:8].lower()
    if lowered.startswith("data:"):
        comma = text.find(",")
        if comma < 0:
            raise media_error(noun, "data URL has no ',' between its header and its data")
        is_base64 = any(p.strip().lower() == "base64" for p in text[5:comma].split(";")[1:])
        return InlineSource(text, comma + 1, is_base64)
    if lowered.startswith(("http://", "https://")):
        return RemoteSource(text)
    if lowered.startswith("file:"):
        return LocalSource(text)
    if text.startswith("/"):
        return InlineSource(text, 0, True) if _sniffs_as_base64(text) else LocalSource(text)
    if _SCHEME.match(text[:32]):
        scheme = text.split(":", 1)[0]
        raise media_error(noun, f"unsupported URL scheme '{scheme}': use http(s), a data URL "
                         f"or base64 {noun} data")
    if _BASE64_PREFIX.match(text[:_SNIFF_CHARS]):
        return InlineSource(text, 0, True)
    raise media_error(noun, f"{noun} is not a URL, a data URL, an absolute path or base64 {noun} "
                     "data")


def _sniffs_as_base64(text: str) -> bool:
    prefix = text[:_SNIFF_CHARS]
    if not _BASE64_PREFIX.match(prefix):
        return False
    try:
        head, _ = _decode_base64(prefix[: len(prefix) // 4 * 4])
    except MediaPartError:
        return False
    return detect_format(head) not in _NOT_A_FORMAT


def estimated_size(source: InlineSource) -> int:
    """Upper bound of the decoded size, known before decoding."""
    length = len(source.text) - source.payload_start
    return length * 3 // 4 if source.is_base64 else length


def decode_inline(source: InlineSource, noun: str = "image") -> tuple[bytes, bool]:
    """The bytes of an inline image (or ``noun``), and whether its payload was canonical
    base64."""
    if source.is_base64:
        return _decode_base64(source.payload, noun)
    return unquote_to_bytes(source.payload), False


def _decode_base64(payload: str, noun: str = "image") -> tuple[bytes, bool]:
    try:
        return base64_slices.decode(payload), True
    except (binascii.Error, ValueError):
        pass
    # The lenient path copies the string a few times; it only runs for payloads that clients
    # wrapped, URL-encoded or trimmed, and it runs in the pool.
    cleaned = "".join(payload.split())
    if "%" in cleaned:
        cleaned = unquote(cleaned)
    cleaned = cleaned.replace("-", "+").replace("_", "/").rstrip("=")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64_slices.decode(cleaned), False
    except (binascii.Error, ValueError):
        raise media_error(noun, f"{noun} data is not valid base64") from None


def read_local_file(source: LocalSource, root: Path | None, budget: ImageBudget,
                    noun: str = "image") -> bytes:
    """Read a local image (or ``noun``) if it lies below ``root`` (IMAGE_LOCAL_DIR, or
    VIDEO_LOCAL_DIR for video). Blocking."""
    var = f"{noun.upper()}_LOCAL_DIR"
    if root is None:
        raise media_error(noun, f"local {noun} files are not allowed ({var} is not set)")
    path = _local_path(source.path, noun)
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise media_error(noun, f"local {noun} path is outside {var}")
    try:
        # O_NONBLOCK: opening a FIFO must not hang the thread; O_NOFOLLOW: a symlink swapped in
        # after the containment check is refused instead of followed.
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise media_error(noun, f"local {noun} file does not exist") from None
    except OSError as exc:
        raise media_error(noun, f"local {noun} file cannot be opened: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise media_error(noun, f"local {noun} path is not a regular file")
        budget.check_size(info.st_size)
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(budget.per_image + 1)
    finally:
        os.close(fd)


def _local_path(text: str, noun: str) -> Path:
    if text[:5].lower() == "file:":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise media_error(noun, "file URL names another host; use file:///absolute/path")
        text = unquote(parts.path)
    path = Path(text)
    if not path.is_absolute():
        raise media_error(noun, f"local {noun} path must be absolute")
    return path
