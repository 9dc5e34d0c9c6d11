"""Pillow work on one image: detection, refusal, pass-through, conversion, downscaling,
re-encoding. Synchronous and without I/O, over the generated corpus."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFile, JpegImagePlugin

from sglang_worker.errors import ImageError
from sglang_worker.images.colour import source_profile
from sglang_worker.images.format import SUPPORTED, UNKNOWN, detect_format
from sglang_worker.images.normalise import ImageLimits, normalise_image
from sglang_worker.images.sizing import fit_within
from tests.support import image_corpus as corpus

# TIFF allowed here, so its decoding is tested; refused by default (test below).
LIMITS = ImageLimits(max_pixels=100_000_000, max_side=4096, target_pixels=12_845_056,
                     jpeg_quality=90, allow_tiff=True)


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def is_red(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return r > 180 and g < 80 and b < 80


@pytest.fixture
def no_pixel_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to decode pixels fails the test."""
    def refuse(self):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- Detection and refusal -----------------------------------------------------------------

@pytest.mark.parametrize(("data", "name"), [
    (corpus.jpeg(), "JPEG"), (corpus.jpeg(progressive=True), "JPEG"), (corpus.png(), "PNG"),
    (corpus.encode(corpus.picture(), "GIF"), "GIF"),
    (corpus.encode(corpus.picture(), "WEBP"), "WEBP"),
    (corpus.encode(corpus.picture(), "BMP"), "BMP"),
    (corpus.encode(corpus.picture(), "TIFF"), "TIFF"),
    (corpus.encode(corpus.picture(), "TIFF", compression="tiff_adobe_deflate"), "TIFF"),
    (b"\x00\x01\x02\x03garbage", UNKNOWN),
])
def test_formats_are_detected_from_bytes(data: bytes, name: str) -> None:
    assert detect_format(data) == name


@pytest.mark.parametrize("key", list(corpus.NOT_IMAGES))
def test_non_images_are_refused_naming_what_was_detected(key: str) -> None:
    with pytest.raises(ImageError) as caught:
        normalise_image(corpus.NOT_IMAGES[key], LIMITS)
    assert caught.value.message == f"not a supported image: detected {corpus.EXPECTED_NAME[key]}"


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x8a\x12\x00\x99" * 40, id="binary noise"),
])
def test_empty_and_unrecognised_data_are_refused(data: bytes) -> None:
    with pytest.raises(ImageError, match=r"empty|not a supported image: detected unrecognised"):
        normalise_image(data, LIMITS)


@pytest.mark.parametrize(("data", "fmt"), [
    (corpus.truncated(corpus.jpeg()), "JPEG"),
    (corpus.truncated(corpus.jpeg(), 0.95), "JPEG"),
    (corpus.truncated(corpus.jpeg(progressive=True)), "JPEG"),
    (corpus.truncated(corpus.png()), "PNG"),
    (corpus.truncated(corpus.png(), 0.95), "PNG"),
    (corpus.truncated(corpus.encode(corpus.picture(), "GIF")), "GIF"),
    (corpus.truncated(corpus.encode(corpus.picture(), "WEBP")), "WEBP"),
    (corpus.truncated(corpus.encode(corpus.picture(), "TIFF")), "TIFF"),
    (corpus.truncated(corpus.encode(corpus.picture(), "BMP")), "BMP"),
    (corpus.jpeg()[:20], "JPEG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "PNG"),
    (corpus.polyglot_gif_javascript(), "GIF"),
])
def test_truncated_or_corrupt_images_are_refused_naming_the_format(data: bytes,
                                                                   fmt: str) -> None:
    with pytest.raises(ImageError) as caught:
        normalise_image(data, LIMITS)
    assert caught.value.message.startswith(f"image data is truncated or corrupt (detected {fmt}")


def test_a_pdf_carrying_a_jpeg_is_a_pdf() -> None:
    with pytest.raises(ImageError, match="detected PDF"):
        normalise_image(corpus.polyglot_pdf_with_jpeg(), LIMITS)


@pytest.mark.parametrize(("data", "marker"), [
    (corpus.polyglot_jpeg_with_zip(), b"PK\x03\x04"),
    (corpus.polyglot_png_with_html(), b"<script>"),
])
def test_images_with_an_appended_payload_are_re_encoded_without_it(data: bytes,
                                                                   marker: bytes) -> None:
    result = normalise_image(data, LIMITS)
    assert result.changed
    assert marker not in result.data
    assert opened(result.data).size == (64, 48)


# --- Decompression bombs: refused from the header, never decoded -----------------------------

@pytest.mark.parametrize(("bomb", "words"), [
    (corpus.png_bomb, "image is 50000x50000 pixels (2500.0 MP), over the 100.0 MP limit"),
    (corpus.gif_bomb, "image is 65535x65535 pixels"),
    (corpus.bmp_bomb, "image is 50000x50000 pixels"),
    (corpus.jpeg_bomb, "image is 65500x65500 pixels"),
    (corpus.tiff_bomb, "image is 65535x65535 pixels"),
    (corpus.webp_bomb, "MAX_IMAGE_PIXELS"),  # libwebp's demuxer trips Pillow's own guard first
])
def test_bombs_are_refused_from_the_header(bomb, words: str, no_pixel_decoding) -> None:
    data = bomb()
    assert len(data) < 2000
    with pytest.raises(ImageError) as caught:
        normalise_image(data, LIMITS)
    assert words in caught.value.message
    assert "MAX_IMAGE_PIXELS" in caught.value.message


def test_tiff_is_refused_unless_allowed() -> None:
    tiff = corpus.encode(corpus.picture(), "TIFF")
    with pytest.raises(ImageError, match="IMAGE_ALLOW_TIFF is off"):
        normalise_image(tiff, replace(LIMITS, allow_tiff=False))
    assert normalise_image(tiff, LIMITS).mime == "image/png"


def test_a_real_image_over_the_pixel_limit_is_refused() -> None:
    limits = ImageLimits(max_pixels=64 * 47, max_side=0, target_pixels=0, jpeg_quality=90)
    with pytest.raises(ImageError, match=r"image is 64x48 pixels \(0\.0 MP\)"):
        normalise_image(corpus.jpeg((64, 48)), limits)
    assert opened(normalise_image(corpus.jpeg((64, 47)), limits).data).size == (64, 47)


# --- Pass-through ---------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "mime"), [
    (corpus.jpeg(), "image/jpeg"),
    (corpus.jpeg(progressive=True), "image/jpeg"),
    (corpus.jpeg(mode="L"), "image/jpeg"),
    (corpus.jpeg(orientation=1), "image/jpeg"),
    (corpus.png(), "image/png"),
    (corpus.png(mode="L"), "image/png"),
    (corpus.encode(corpus.picture(), "WEBP", quality=80), "image/webp"),
    (corpus.encode(corpus.picture(), "WEBP", lossless=True), "image/webp"),
])
def test_images_needing_no_change_pass_through_byte_for_byte_undecoded(
        data: bytes, mime: str, no_pixel_decoding) -> None:
    result = normalise_image(data, LIMITS)
    assert result.data is data
    assert (result.mime, result.changed) == (mime, False)
    assert Image.open(io.BytesIO(result.data)).size == (64, 48)  # the header only


@pytest.mark.parametrize("data", [
    pytest.param(corpus.jpeg(orientation=6), id="EXIF rotation"),
    pytest.param(corpus.jpeg((5000, 10)), id="over the max side"),
    pytest.param(corpus.png(mode="RGBA"), id="alpha"),
    pytest.param(corpus.palette_png_with_transparency(), id="palette transparency"),
    pytest.param(corpus.png(mode="P"), id="palette"),
    pytest.param(corpus.rgb16_png(), id="16-bit RGB"),
    pytest.param(corpus.gray16_png(), id="16-bit grey"),
    pytest.param(corpus.animated("PNG"), id="animated PNG"),
    pytest.param(corpus.animated("WEBP"), id="animated WebP"),
    pytest.param(corpus.cmyk_jpeg(), id="CMYK"),
    pytest.param(corpus.encode(corpus.picture(), "GIF"), id="GIF"),
    pytest.param(corpus.encode(corpus.picture(), "BMP"), id="BMP"),
    pytest.param(corpus.encode(corpus.picture(), "TIFF"), id="TIFF"),
    pytest.param(corpus.jpeg() + b"\x00" * 10, id="JPEG with trailing bytes"),
])
def test_everything_else_is_re_encoded_once(data: bytes) -> None:
    result = normalise_image(data, LIMITS)
    assert result.changed
    im = opened(result.data)
    assert im.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[result.mime]
    assert im.mode in ("RGB", "L")
    assert getattr(im, "n_frames", 1) == 1
    assert normalise_image(result.data, LIMITS).data is result.data  # now stable


# --- Conversions ----------------------------------------------------------------------------

@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    # The red mark is stored top-left; where it must appear once displayed upright:
    # 2 mirrors it right, 3 turns it to bottom-right, 4 flips it bottom-left, 5 transposes
    # it to top-left, 6 turns it top-right, 7 to bottom-right, 8 to bottom-left.
    corner = {1: "tl", 2: "tr", 3: "br", 4: "bl", 5: "tl", 6: "tr", 7: "br", 8: "bl"}
    result = normalise_image(corpus.jpeg((80, 40), orientation=orientation), LIMITS)
    im = opened(result.data).convert("RGB")
    assert im.size == ((40, 80) if orientation >= 5 else (80, 40))
    w, h = im.size
    points = {"tl": (1, 1), "tr": (w - 2, 1), "bl": (1, h - 2), "br": (w - 2, h - 2)}
    assert [c for c, p in points.items() if is_red(im.getpixel(p))] == [corner[orientation]]
    assert result.changed == (orientation != 1)
    assert im.getexif().get(0x0112, 1) == 1  # no rotation left for SGLang to apply


@pytest.mark.parametrize(("data", "expected"), [
    (corpus.rgba_png(alpha=0), (255, 255, 255)),
    (corpus.rgba_png(alpha=255), (255, 0, 0)),
    (corpus.rgba_png(alpha=128), (255, 127, 127)),
])
def test_alpha_is_composited_onto_white(data: bytes, expected: tuple[int, int, int]) -> None:
    result = normalise_image(data, LIMITS)
    im = opened(result.data)
    assert result.mime == "image/png" and im.mode == "RGB"
    assert all(abs(a - b) <= 1 for a, b in zip(im.getpixel((3, 3)), expected, strict=True))


def test_palette_transparency_becomes_white() -> None:
    im = opened(normalise_image(corpus.palette_png_with_transparency(), LIMITS).data)
    assert im.getpixel((0, 0)) == (255, 255, 255)
    assert im.getpixel((7, 7)) == (0, 0, 255)


def test_la_and_lossless_webp_alpha_are_composited() -> None:
    la = opened(normalise_image(corpus.encode(Image.new("LA", (4, 4), (0, 0)), "PNG"),
                                LIMITS).data)
    assert la.getpixel((0, 0))[:3] == (255, 255, 255)
    rgba = Image.new("RGBA", (4, 4), (0, 0, 255, 0))
    webp = normalise_image(corpus.encode(rgba, "WEBP", lossless=True), LIMITS)
    assert webp.mime == "image/png"  # lossless source, lossless output
    assert opened(webp.data).getpixel((0, 0)) == (255, 255, 255)


def test_16_bit_images_become_8_bit() -> None:
    grey = opened(normalise_image(corpus.gray16_png((65535, 32768)), LIMITS).data)
    assert grey.mode == "L"
    assert grey.getpixel((0, 0)) == 255
    assert abs(grey.getpixel((2, 2)) - 128) <= 1  # 32768 is half of full scale
    rgb = normalise_image(corpus.rgb16_png(), LIMITS)
    assert rgb.changed and rgb.mime == "image/png"
    assert opened(rgb.data).getpixel((0, 0)) == (128, 64, 255)


def test_cmyk_becomes_rgb_jpeg() -> None:
    result = normalise_image(corpus.cmyk_jpeg(), LIMITS)
    im = opened(result.data)
    assert (result.mime, im.mode) == ("image/jpeg", "RGB")
    assert is_red(im.getpixel((8, 8)))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_keep_their_first_frame(fmt: str) -> None:
    result = normalise_image(corpus.animated(fmt), LIMITS)
    im = opened(result.data)
    assert getattr(im, "n_frames", 1) == 1
    assert is_red(im.convert("RGB").getpixel((8, 8)))


def test_multipage_tiff_keeps_its_first_page() -> None:
    im = opened(normalise_image(corpus.multipage_tiff(), LIMITS).data)
    assert is_red(im.getpixel((8, 8)))


@pytest.mark.parametrize(("mode", "fmt"), [("1", "PNG"), ("I", "TIFF"), ("F", "TIFF"),
                                           ("RGBA", "BMP"), ("L", "GIF"), ("YCbCr", "JPEG"),
                                           ("RGBA", "TIFF"), ("CMYK", "TIFF")])
def test_other_modes_become_8_bit_rgb_or_grey(mode: str, fmt: str) -> None:
    result = normalise_image(corpus.encode(corpus.picture(mode=mode), fmt), LIMITS)
    assert opened(result.data).mode in ("RGB", "L")


# --- Size and encoding ------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "limits", "expected"), [
    ((5000, 1000), (1000, 0), (1000, 200)),
    ((1000, 5000), (1000, 0), (200, 1000)),
    ((2000, 2000), (0, 1_000_000), (1000, 1000)),
    ((3000, 1000), (2000, 1_500_000), (2000, 666)),
    ((1200, 900), (2000, 1_500_000), (1200, 900)),
])
def test_downscaling_keeps_the_aspect_ratio(size, limits, expected) -> None:
    max_side, target_pixels = limits
    result = normalise_image(corpus.png(size),
                             ImageLimits(100_000_000, max_side, target_pixels, 90))
    assert opened(result.data).size == expected
    assert result.mime == "image/png"  # lossless source stays lossless
    assert is_red(opened(result.data).getpixel((2, 2)))


def test_big_jpegs_are_reduced_while_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_sizes = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        outcome = real_draft(self, mode, size)
        decoded_sizes.append(self.size)
        return outcome

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    result = normalise_image(corpus.jpeg((4000, 3000)), ImageLimits(100_000_000, 500, 0, 90))
    assert decoded_sizes == [(500, 375)]  # DCT-scaled by 1/8: exactly the target, no resample
    assert opened(result.data).size == (500, 375) and result.mime == "image/jpeg"
    assert is_red(opened(result.data).getpixel((5, 5)))


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(0, 5000),
       st.integers(0, 20_000_000))
def test_fit_within_respects_both_limits_and_the_aspect_ratio(w, h, max_side, max_pixels):
    fw, fh = fit_within((w, h), max_side, max_pixels)
    if (fw, fh) == (w, h):
        assert (not max_side or max(w, h) <= max_side) and (not max_pixels or w * h <= max_pixels)
        return
    assert fw <= w and fh <= h
    assert not max_side or max(fw, fh) <= max_side
    if max_pixels and min(fw, fh) > 1:  # a side clamped to 1 pixel cannot shrink further
        assert fw * fh <= max_pixels
    # Each side is rounded down by less than a pixel: the ratio moves by no more than that.
    assert abs(fw * h - fh * w) <= w + h


def test_jpeg_quality_setting_is_used() -> None:
    data = corpus.jpeg(orientation=3)
    low = normalise_image(data, ImageLimits(100_000_000, 4096, 0, 20))
    high = normalise_image(data, ImageLimits(100_000_000, 4096, 0, 95))
    assert len(low.data) < len(high.data)


def test_supported_table_names_a_mime_type_per_format() -> None:
    assert set(SUPPORTED) == {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}
    assert all(mime.startswith("image/") for mime in SUPPORTED.values())


# --- Colour profiles --------------------------------------------------------------------------

WIDE = corpus.rgb_icc_profile()
SRGB = corpus.rgb_icc_profile("sRGB IEC61966-2.1")
# The D50-adapted primaries of the hand-made wide profile and of sRGB, as columns of XYZ.
WIDE_TO_XYZ = np.array([[0.6097, 0.2053, 0.1492], [0.3111, 0.6257, 0.0632],
                        [0.0195, 0.0609, 0.7446]])
SRGB_TO_XYZ = np.array([[0.4361, 0.3851, 0.1431], [0.2225, 0.7169, 0.0606],
                        [0.0139, 0.0971, 0.7141]])


def wide_to_srgb(rgb: tuple[int, int, int]) -> np.ndarray:
    """The colour science, by hand: decode the 2.2 gamma, through XYZ to linear sRGB, encode."""
    linear = (np.array(rgb) / 255) ** (563 / 256)
    srgb = np.clip(np.linalg.solve(SRGB_TO_XYZ, WIDE_TO_XYZ @ linear), 0, 1)
    encoded = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055)
    return encoded * 255


def test_pixels_in_another_rgb_space_are_converted_to_srgb() -> None:
    colour = (100, 150, 200)
    data = corpus.encode(Image.new("RGB", (64, 48), colour), "PNG", icc_profile=WIDE)
    result = normalise_image(data, LIMITS)
    assert result.changed and result.mime == "image/png"
    im = opened(result.data)
    assert source_profile(im) is None  # it says sRGB now
    assert np.abs(np.array(im.getpixel((10, 10))) - wide_to_srgb(colour)).max() <= 2
    assert np.abs(np.array(im.getpixel((10, 10))) - colour).max() >= 20  # a visible shift


def test_a_wide_gamut_jpeg_is_converted_not_passed_through() -> None:
    colour = (100, 150, 200)
    data = corpus.encode(Image.new("RGB", (64, 48), colour), "JPEG", quality=95,
                         icc_profile=WIDE)
    result = normalise_image(data, LIMITS)
    assert result.changed and result.mime == "image/jpeg"
    assert np.abs(np.array(opened(result.data).getpixel((10, 10))) - wide_to_srgb(colour)
                  ).max() <= 4


def test_alpha_survives_the_conversion_and_is_composited_after_it() -> None:
    im = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    im.paste((100, 150, 200, 255), (0, 0, 4, 8))
    result = normalise_image(corpus.encode(im, "PNG", icc_profile=WIDE), LIMITS)
    out = opened(result.data)
    assert out.mode == "RGB" and out.getpixel((6, 4)) == (255, 255, 255)
    assert np.abs(np.array(out.getpixel((1, 4))) - wide_to_srgb((100, 150, 200))).max() <= 2


@pytest.mark.parametrize("icc", [
    pytest.param(SRGB, id="an sRGB profile"),
    pytest.param(b"not a profile" * 10, id="an unparsable profile"),
])
def test_images_whose_profile_needs_nothing_still_pass_through(icc: bytes,
                                                               no_pixel_decoding) -> None:
    data = corpus.encode(corpus.picture(), "JPEG", quality=90, icc_profile=icc)
    result = normalise_image(data, LIMITS)
    assert result.data is data and not result.changed
