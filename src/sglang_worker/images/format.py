"""What kind of file some bytes are, from their first bytes alone: pure and cheap.

Contract:
- ``detect_format(data)`` names the format the bytes begin with. It never trusts a declared MIME
  type or file name: a PNG sent as ``data:image/jpeg`` is a PNG, an HTML error page served as
  ``image/png`` is HTML.
- The supported formats are the keys of ``SUPPORTED``: JPEG, PNG, GIF, WEBP, BMP and TIFF, named
  as Pillow names them. Anything else gets a name a user recognises ("PDF", "SVG", "HTML",
  "HEIC", "ZIP archive", "text" ...) so a refusal can say what was actually sent, or
  ``UNKNOWN`` when nothing matches.
- Only the start of the data decides. A polyglot that starts as an image is that image (the
  normaliser re-encodes it, which drops whatever was appended); one that starts as a PDF is a PDF.
"""

from __future__ import annotations

SUPPORTED: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
UNKNOWN = "unrecognised data"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "an executable"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"\x1aE\xdf\xa3", "WebM/Matroska video"),
)
# ISO base media files (HEIF, AVIF, MP4 ...) say what they are in their "ftyp" brand.
_FTYP_BRANDS: dict[bytes, str] = {
    b"avif": "AVIF", b"avis": "AVIF",
    b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC", b"heis": "HEIC", b"hevc": "HEIC",
    b"mif1": "HEIF", b"msf1": "HEIF",
    b"qt  ": "QuickTime video",
}
_TEXT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("<svg", "SVG"),
    ("<!doctype html", "HTML"),
    ("<html", "HTML"),
    ("<head", "HTML"),
    ("<body", "HTML"),
    ("<!doctype svg", "SVG"),
    ("<?xml", "XML"),
    ("{", "JSON"),
    ("[", "JSON"),
)


def detect_format(data: bytes) -> str:
    """The format ``data`` starts with: a key of ``SUPPORTED``, another format's name, or
    ``UNKNOWN``."""
    head = bytes(data[:64])
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"RIFF"):
        return "RIFF media (audio or video)"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "MP4 video")
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return _detect_text(bytes(data[:1024]))


def _detect_text(head: bytes) -> str:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # The 1 KiB cut may split a multi-byte character; anything else is binary.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return UNKNOWN
    text = text.lstrip("\ufeff \t\r\n").lower()
    if not text:
        return "blank text"
    if text.startswith("<?xml") and "<svg" in text:
        return "SVG"
    if text.startswith("<!--") and "<svg" in text:
        return "SVG"
    for prefix, name in _TEXT_PREFIXES:
        if text.startswith(prefix):
            return name
    if all(c.isprintable() or c in "\t\r\n" for c in text):
        return "text"
    return UNKNOWN
