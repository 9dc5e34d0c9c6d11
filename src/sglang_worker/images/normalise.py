"""Turn the bytes of one image into bytes SGLang can use: Pillow work, synchronous, pure.

Contract (the steps, in the order they apply):
1. The format is sniffed from the bytes (``format``). Anything but JPEG, PNG, GIF, WebP,
   BMP and TIFF is refused, naming what was found ("not a supported image: detected PDF").
   TIFF only when ``allow_tiff`` (``IMAGE_ALLOW_TIFF``, off by default: libtiff has had
   recent CVEs, and the image's Pillow cannot be proven patched from here).
2. Only the header is parsed (Pillow's plugin for that format, opened lazily). The pixel count
   is checked against ``max_pixels`` there, so a decompression bomb (a PNG declaring
   50,000 x 50,000) is refused before any decoder runs.
3. The target size is decided once, on the upright size (EXIF orientation applied):
   ``sizing.target_size`` with the model's rules (``grid``; None: the generic ``max_side`` and
   ``target_pixels``). It is never larger than the image.
4. Pass-through: a JPEG, PNG or WebP that is already at its target size, 8-bit RGB or
   greyscale, has no transparency, no EXIF rotation, no embedded colour profile other than
   sRGB, one frame, and ends where its format says it ends (JPEG end marker, PNG ``IEND``,
   WebP RIFF length) is returned byte for byte, its pixels never decoded. The end check
   catches truncated files and appended payloads; corruption inside the compressed data of
   such a file is left for SGLang's own decoder.
5. Everything else is decoded once and, in order: reduced at decode time (JPEG DCT scaling with
   ``draft``, to the smallest scale at or above the target), rotated upright (EXIF
   orientation), brought to 8-bit RGB or greyscale (CMYK, YCCK, 16-bit and other modes
   converted), resized to exactly the target with one Lanczos resize (Pillow's ``reduce``
   first when the step is large), converted to sRGB when an RGB colour profile says it is in
   another space (``colour``; after the resize: fewer pixels), and finally alpha and
   palette transparency composited onto white. CMYK images are converted with Pillow's plain
   formula: a CMYK profile is not applied. Animated GIF, WebP and PNG keep their first frame;
   multi-page TIFF its first page.
6. Re-encoding follows the source: lossless sources (PNG, GIF, BMP, TIFF, lossless WebP) become
   PNG so sharp text and line art stay sharp; lossy ones (JPEG, lossy WebP) become JPEG at
   ``jpeg_quality`` without chroma subsampling (4:4:4), never a photo turned into a huge PNG.
   Measured (docs/benchmarks.md): at the tiny model's 112x84, 4:2:0 JPEG is 31-33 dB from
   what the processor makes of the original, 4:4:4 at quality 95 is 40 dB; PNG is 50 dB but
   ten times slower to encode at 1 MP and more.
   The output is a pure function of the input bytes and the limits: the same source gives the
   same bytes, so SGLang's prefix cache can match a re-sent image.
Truncated or corrupt data fails with an ``ImageError`` that names the detected format.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import (
    BmpImagePlugin,
    ExifTags,
    GifImagePlugin,
    Image,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from sglang_worker.errors import ImageError
from sglang_worker.images.colour import source_profile, to_srgb
from sglang_worker.images.format import SUPPORTED, detect_format
from sglang_worker.images.sizing import PixelGrid, Size, target_size

# Opening the format's plugin class directly (rather than Image.open) parses the header without
# Pillow's own decompression-bomb check, so the size check below runs first and can say what
# the size was. Pillow's check (Image.MAX_IMAGE_PIXELS, set once at process start by
# ``images.limit_pillow_pixels``) stays in force inside the decoders as a backstop.
_PLUGINS: dict[str, type[ImageFile.ImageFile]] = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "GIF": GifImagePlugin.GifImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,
}
_PASS_THROUGH_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
_LOSSLESS_FORMATS = frozenset({"PNG", "GIF", "BMP", "TIFF"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# Pillow's advice: reducing by whole factors until twice the target, then resampling, looks
# the same as resampling the full image and is several times faster.
_REDUCING_GAP = 2.0
# What Pillow's decoders raise on malformed data.
_BROKEN = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
           struct.error, zlib.error)


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_pixels: int  # refusal limit, from the header
    max_side: int  # downscale target for the longest side; 0: none
    target_pixels: int  # downscale target for width x height; 0: none
    jpeg_quality: int
    grid: PixelGrid | None = None  # the model's sizing rules; None: max_side and target_pixels
    allow_tiff: bool = False  # IMAGE_ALLOW_TIFF: TIFF goes through libtiff, which has CVEs


@dataclass(frozen=True, slots=True)
class NormalisedImage:
    data: bytes
    mime: str
    changed: bool  # False: ``data`` is the input, untouched
    size_in: Size  # upright, as received
    size_out: Size


def normalise_image(data: bytes, limits: ImageLimits) -> NormalisedImage:
    """Validate ``data`` and return what SGLang should receive (see the module contract)."""
    if not data:
        raise ImageError("image is empty (0 bytes)")
    fmt = detect_format(data)
    if fmt not in SUPPORTED:
        raise ImageError(f"not a supported image: detected {fmt}")
    if fmt == "TIFF" and not limits.allow_tiff:
        raise ImageError("TIFF images are not accepted here (IMAGE_ALLOW_TIFF is off, because "
                         "TIFF decoding goes through libtiff, which has had recent security "
                         "fixes); send PNG or JPEG instead")
    try:
        with _PLUGINS[fmt](io.BytesIO(data)) as im:
            _check_pixels(im.size, limits.max_pixels)
            orientation = _header_orientation(im)
            upright = _upright(im.size, orientation)
            target = target_size(limits.grid, limits.target_pixels, limits.max_side, upright)
            profile = source_profile(im)
            if (target == upright and orientation == 1 and profile is None
                    and _passes_through(im, fmt, data)):
                return NormalisedImage(data, SUPPORTED[fmt], False, upright, upright)
            # Closing the source frees its pixels too, so everything happens inside the block.
            out = _decode_upright_8bit(im, fmt, _upright(target, orientation))
            out = _flatten(to_srgb(_resize(out, target), profile))
            lossless = fmt in _LOSSLESS_FORMATS or (fmt == "WEBP" and _webp_is_lossless(data))
            encoded = _encode(out, lossless, limits.jpeg_quality)
    except Image.DecompressionBombError:
        raise ImageError(f"image has more pixels than the {_megapixels(limits.max_pixels)} "
                         "limit (MAX_IMAGE_PIXELS)") from None
    except _BROKEN as exc:
        reason = str(exc)[:160] or type(exc).__name__
        raise ImageError(f"image data is truncated or corrupt (detected {fmt}: {reason})"
                         ) from None
    return NormalisedImage(encoded, "image/png" if lossless else "image/jpeg", True, upright,
                           target)


def _upright(size: Size, orientation: int) -> Size:
    """``size`` as seen after the EXIF rotation (orientations 5 to 8 swap the sides)."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"image header declares an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(f"image is {width}x{height} pixels ({_megapixels(width * height)}), "
                         f"over the {_megapixels(max_pixels)} limit (MAX_IMAGE_PIXELS)")


def _passes_through(im: ImageFile.ImageFile, fmt: str, data: bytes) -> bool:
    if fmt not in _PASS_THROUGH_FORMATS or im.mode not in ("RGB", "L"):
        return False
    if "transparency" in im.info or getattr(im, "is_animated", False):
        return False
    # Pillow shows a 16-bit-per-channel PNG as 8-bit RGB; the file itself still is 16-bit.
    if fmt == "PNG" and data[24] != 8:
        return False
    return _ends_where_it_should(fmt, data)


def _header_orientation(im: ImageFile.ImageFile) -> int:
    # A PNG's EXIF may sit after the pixel data, and PngImageFile.getexif() decodes the image to
    # reach it; the rare late chunk is not worth a decode.
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    return int(im.getexif().get(ExifTags.Base.Orientation, 1))


def _ends_where_it_should(fmt: str, data: bytes) -> bool:
    if fmt == "JPEG":
        return data.endswith(b"\xff\xd9")
    if fmt == "PNG":
        return data.endswith(_PNG_IEND)
    return int.from_bytes(data[4:8], "little") + 8 == len(data)  # WebP's RIFF length


def _decode_upright_8bit(im: ImageFile.ImageFile, fmt: str,
                         target: tuple[int, int]) -> Image.Image:
    if fmt == "JPEG" and target != im.size:
        # libjpeg decodes straight to 1/2, 1/4 or 1/8 scale: the cheapest reduction there is.
        # It may go down to the target itself: the scaled IDCT filters as it reduces, so unlike
        # a plain reduce it needs no margin (PSNR unchanged, 2-3x faster; docs/benchmarks.md).
        im.draft(None, target)
    im.load()
    ImageOps.exif_transpose(im, in_place=True)
    return _to_8bit(im)


def _to_8bit(im: Image.Image) -> Image.Image:
    """8-bit RGB or L, or RGBA for an image with transparency (``_flatten`` finishes it)."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return _high_bit_depth_to_l(im)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        # convert() also applies a palette's or tRNS chunk's transparency; RGBA needs no copy.
        return im if im.mode == "RGBA" else im.convert("RGBA")
    if im.mode in ("RGB", "L"):
        return im
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGB")  # P, CMYK (YCCK JPEGs open as CMYK), YCbCr, LAB, HSV ...


def _flatten(im: Image.Image) -> Image.Image:
    """Composite RGBA onto white. Done after downscaling: fewer pixels, and Pillow resizes
    RGBA with premultiplied alpha, so edges come out the same."""
    if im.mode != "RGBA":
        return im
    white = Image.new("RGB", im.size, (255, 255, 255))
    white.paste(im, mask=im.getchannel("A"))
    return white


def _high_bit_depth_to_l(im: Image.Image) -> Image.Image:
    if im.mode.startswith("I;16"):
        im = im.convert("I")
    _, high = im.getextrema()
    # Scale 16-bit samples to 8 bits; data that already fits 8 bits is kept as it is, and wider
    # data is scaled by its own maximum.
    full_scale = 255 if high <= 255 else 65535 if high <= 65535 else high
    return im.point(lambda value: value * (255 / full_scale)).convert("L")


def _resize(im: Image.Image, target: Size) -> Image.Image:
    if target == im.size:
        return im
    return im.resize(target, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def _encode(im: Image.Image, lossless: bool, jpeg_quality: int) -> bytes:
    buffer = io.BytesIO()
    if lossless:
        # Level 1: the PNG only crosses loopback to SGLang, so speed beats a smaller file.
        im.save(buffer, "PNG", compress_level=1)
    else:
        im.save(buffer, "JPEG", quality=jpeg_quality, subsampling=0)
    return buffer.getvalue()


def _webp_is_lossless(data: bytes) -> bool:
    """Whether a WebP's (first) bitstream is VP8L, found by walking its RIFF chunks."""
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos:pos + 4]
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc == b"VP8L"
        if fourcc == b"ANMF":
            pos += 8 + 16  # step into the first frame: a 16-byte frame header, then its chunks
            continue
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        pos += 8 + size + (size & 1)
    return False
