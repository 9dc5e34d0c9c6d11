"""Every image part made safe for SGLang. The entry point is ``ImagePipeline`` (``pipeline``:
parts in, data URLs and an ``ImageReport`` out); its modules, in the order an image meets them:
``parts`` (what an API module hands over), ``source`` (URL, data URL, base64 or local file),
``fetch`` and ``address_policy`` (the guarded download), ``budget`` (byte limits),
``format`` (what the bytes are), ``normalise`` (orientation, modes, ``colour``, ``sizing``),
``prepared_cache``, and ``base64_slices`` (base64 work that never blocks the loop)."""

from sglang_worker.images.parts import DETAILS, ImagePart, Location, check_detail
from sglang_worker.images.pipeline import ImagePipeline, ImageReport, limit_pillow_pixels
from sglang_worker.images.sizing import PixelGrid, model_grid

__all__ = ["DETAILS", "ImagePart", "ImagePipeline", "ImageReport", "Location", "PixelGrid",
           "check_detail", "limit_pillow_pixels", "model_grid"]
