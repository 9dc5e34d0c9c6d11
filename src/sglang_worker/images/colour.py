"""Colour management: RGB pixels described by an embedded ICC profile become sRGB pixels.

Why: vision models are trained on sRGB pixels, and neither SGLang nor the model's image
processor reads an embedded profile. A photo in Display P3 or Adobe RGB (what many phones and
cameras write) would reach the model with shifted colours, and any re-encode that drops the
profile, as a plain Pillow save does, makes the shift permanent.

Contract (pure, synchronous):
- ``source_profile(im)``: the image's embedded profile when it has to be applied: present,
  parsable by LittleCMS, an RGB profile on an RGB or palette image, and not sRGB itself (told by
  its description). None otherwise: no profile, an sRGB one, a greyscale or CMYK one, or one
  that does not parse; those pixels are used as they are. Reads only the header's metadata.
- ``to_srgb(im, profile)``: ``im`` (RGB or RGBA) converted from ``profile`` to sRGB with the
  perceptual intent, alpha kept; with ``profile`` None, another mode, or a profile LittleCMS
  cannot build a transform from, ``im`` itself.
"""

from __future__ import annotations

import io
from typing import cast

from PIL import Image, ImageCms

_RGB_MODES = frozenset({"RGB", "RGBA", "P", "PA"})
_SRGB = ImageCms.createProfile("sRGB")


def source_profile(im: Image.Image) -> ImageCms.ImageCmsProfile | None:
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in _RGB_MODES:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return None
    if profile.profile.xcolor_space.strip() != "RGB":
        return None
    if "srgb" in (profile.profile.profile_description or "").lower():
        return None
    return profile


def to_srgb(im: Image.Image, profile: ImageCms.ImageCmsProfile | None) -> Image.Image:
    if profile is None or im.mode not in ("RGB", "RGBA"):
        return im
    try:
        converted = ImageCms.profileToProfile(im, profile, _SRGB,
                                              renderingIntent=ImageCms.Intent.PERCEPTUAL,
                                              outputMode=im.mode)
    except ImageCms.PyCMSError:
        return im  # a profile that parses but cannot be applied: the pixels as they are
    return cast(Image.Image, converted)  # None only with inPlace=True
