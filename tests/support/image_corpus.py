"""Test images made on the fly with Pillow (and, for bombs, by hand): every format and mode the
worker accepts, the awkward ones it must convert, and the files it must refuse.

Pictures are small and deterministic. Each has a red mark in its top-left corner so tests can
see where "up" ended after EXIF rotation. Bombs are headers only: they declare a huge size
but take a few hundred bytes, so refusing them costs nothing and accepting them would be
obvious.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib

from PIL import Image, ImageDraw

RED = (220, 20, 20)


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A photo-like RGB picture (gradient, a circle, a red top-left mark) in ``mode``."""
    width, height = size
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(30, 90, 200))
    draw.rectangle((0, 0, max(1, width // 8), max(1, height // 8)), fill=RED)
    return im if mode == "RGB" else im.convert(mode)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (64, 48), mode: str = "RGB", *, orientation: int | None = None,
         **params) -> bytes:
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    return encode(picture(size, mode), "JPEG", quality=90, **params)


def png(size: tuple[int, int] = (64, 48), mode: str = "RGB", **params) -> bytes:
    return encode(picture(size, mode), "PNG", **params)


def rgba_png(alpha: int = 0, size: tuple[int, int] = (8, 8)) -> bytes:
    """Solid red with the given alpha everywhere."""
    return encode(Image.new("RGBA", size, (255, 0, 0, alpha)), "PNG")


def palette_png_with_transparency() -> bytes:
    """A palette image whose index 0 (black) is transparent; the right half is index 1 (blue)."""
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (4, 0, 8, 8))
    return encode(im, "PNG", transparency=0)


def gray16_png(values: tuple[int, int] = (65535, 32768)) -> bytes:
    """16-bit greyscale: the left column holds values[0], the rest values[1]."""
    im = Image.new("I;16", (4, 4), values[1])
    for y in range(4):
        im.putpixel((0, y), values[0])
    return encode(im, "PNG")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_from_rows(width: int, height: int, bit_depth: int, color_type: int,
                  rows: bytes) -> bytes:
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB, absurd sizes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))


def rgb16_png() -> bytes:
    """2x2 16-bit-per-channel RGB, all pixels (0x8000, 0x4000, 0xFFFF)."""
    row = b"\x00" + struct.pack(">HHH", 0x8000, 0x4000, 0xFFFF) * 2
    return png_from_rows(2, 2, 16, 2, row * 2)


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """Declares width x height RGB; its pixel data is one tiny row. Decoding it would need
    7.5 GB."""
    return png_from_rows(width, height, 8, 2, b"\x00" * 16)


def gif_bomb(width: int = 65_535, height: int = 65_535) -> bytes:
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b";"


def bmp_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def jpeg_bomb(width: int = 65_500, height: int = 65_500) -> bytes:
    """A real JPEG whose frame header (SOF0) is patched to declare width x height."""
    data = bytearray(jpeg((16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_bomb(width: int = 16_383, height: int = 16_383) -> bytes:
    """A real lossy WebP whose VP8 key-frame header is patched to declare width x height."""
    data = bytearray(encode(picture((16, 16)), "WEBP", quality=80))
    frame = data.index(b"\x9d\x01\x2a")
    data[frame + 3:frame + 7] = struct.pack("<HH", width, height)
    return bytes(data)


def tiff_bomb(width: int = 65_535, height: int = 65_535) -> bytes:
    """A real TIFF whose ImageWidth and ImageLength tags are patched."""
    data = bytearray(encode(picture((8, 8)), "TIFF"))
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):
            fmt = "<H" if kind == 3 else "<I"
            struct.pack_into(fmt, data, entry + 8, width if tag == 256 else height)
    return bytes(data)


def animated(fmt: str, colours: tuple[tuple[int, int, int], ...] = (RED, (0, 200, 0),
                                                                     (0, 0, 200))) -> bytes:
    frames = [Image.new("RGB", (16, 16), c) for c in colours]
    params = {"lossless": True} if fmt == "WEBP" else {}
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                  loop=0, **params)


def multipage_tiff() -> bytes:
    return animated("TIFF")


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def rgb_icc_profile(description: str = "Wide test RGB") -> bytes:
    """An ICC v2 matrix/TRC display profile, written by hand (no profile ships with the test
    machine): Adobe RGB (1998)'s primaries, adapted to D50, with a 2.2 gamma. Its description
    is the only thing that tells an sRGB profile apart for the worker."""
    text = description.encode() + b"\0"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0\0\0"
            + b"\0" * 67)
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", _xyz_tag(0.9642, 1.0, 0.8249)),
            (b"rXYZ", _xyz_tag(0.6097, 0.3111, 0.0195)),
            (b"gXYZ", _xyz_tag(0.2053, 0.6257, 0.0609)),
            (b"bXYZ", _xyz_tag(0.1492, 0.0632, 0.7446)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"cprt", b"text\0\0\0\0none\0")]
    offset = 128 + 4 + 12 * len(tags)
    table = body = b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (struct.pack(">I", offset + len(body)) + b"\0" * 4 + struct.pack(">I", 0x02100000)
              + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 28
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + body


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


NOT_IMAGES: dict[str, bytes] = {
    "SVG": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "SVG (xml prolog)": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    "PDF": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
    "HTML": b"<!DOCTYPE html><html><body>Not found</body></html>",
    "JSON": b'{"error": "not found"}',
    "text": b"just some text, not an image\n",
    "ZIP archive": b"",  # filled below
    "gzip data": gzip.compress(b"hello"),
    "HEIC": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    "AVIF": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
    "ICO": b"",  # filled below
    "PSD": b"8BPS\x00\x01" + b"\x00" * 20,
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


NOT_IMAGES["ZIP archive"] = _zip()
NOT_IMAGES["ICO"] = encode(picture((16, 16)), "ICO")
# What the refusal should name for each (the key, without any note in brackets).
EXPECTED_NAME = {key: key.split(" (")[0] for key in NOT_IMAGES}


def polyglot_pdf_with_jpeg() -> bytes:
    """A PDF that embeds a JPEG: starts as a PDF, so it is a PDF."""
    return NOT_IMAGES["PDF"][:-6] + jpeg() + b"\n%%EOF\n"


def polyglot_jpeg_with_zip() -> bytes:
    """A JPEG with a ZIP archive appended (decodes as a picture, unzips as an archive)."""
    return jpeg() + _zip()


def polyglot_png_with_html() -> bytes:
    return png() + b"<html><script>alert(1)</script></html>"


def polyglot_gif_javascript() -> bytes:
    """The classic GIF/JavaScript polyglot: a GIF header that is also the start of a script."""
    return b"GIF89a/*\x0a\x00\x0a\x00\x00\x00\x00*/=alert(1);"
