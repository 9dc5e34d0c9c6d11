"""The size an image should reach SGLang at: the served model's own sizing rules, pure.

Contract:
- ``model_grid(model_type, preprocessor, overrides)`` reads the sizing rules of the model's
  image processor from its ``preprocessor_config.json`` (``preprocessor``), its ``config.json``
  ``model_type`` and the image settings of the worker's ``--mm-process-config``
  (``overrides``), applied as SGLang 0.5.23 with transformers 5 applies them. Each supported
  family is one function in ``FAMILIES``; the first that recognises the model wins. None: the
  family is unknown (or its config is one the processor itself would reject), and images keep
  the worker's generic limits (IMAGE_MAX_SIDE, IMAGE_MAX_PIXELS).
- The Qwen2-VL / Qwen2.5-VL / Qwen3-VL family (``Qwen2VLImageProcessor*``): pixels are bounded
  by ``size.shortest_edge`` / ``size.longest_edge``, which the top-level ``min_pixels`` /
  ``max_pixels`` keys replace one by one; both sides are rounded to ``patch_size *
  merge_size``. Two SGLang facts count: for ``model_type`` ``qwen2_vl`` SGLang loads the
  processor with ``size={"shortest_edge": 3136, "longest_edge": 1003520}``, which replaces the
  file's ``size`` (but not its ``min_pixels`` / ``max_pixels``); and ``--mm-process-config``'s
  ``image`` keys are passed to every processor call, where ``min_pixels`` / ``max_pixels``
  replace one bound each and ``size`` must give both. (``SGLANG_IMAGE_MAX_PIXELS`` sizes only
  SGLang's own video path, not images.)
- ``processor_size(grid, size)`` is the size the processor resizes a ``(width, height)`` image
  to (its ``smart_resize``), or None for an aspect ratio over 200, which it refuses.
- ``target_size(grid, budget, max_side, size)`` is the size the worker sends for an upright
  image of ``size`` (``size`` itself: leave it as it is). With a grid, the image is shrunk only
  when the processor would shrink it, straight to the processor's own result, so the processor
  has nothing left to resize; ``budget`` (the worker's pixel limit: IMAGE_MAX_PIXELS or the
  ``detail: low`` budget; 0: none) lowers the processor's maximum. Never a side larger than the
  image's: an image the processor would only round or enlarge is left alone. At the model's
  own maximum the result is checked: the processor must map it to what it makes of the
  original, so the image tokens are the same; a size that fails the check (only extreme aspect
  ratios, where a side is clamped to one patch) is left alone. Without a grid, the generic
  limits: the largest size of the same aspect ratio within ``max_side`` and ``budget``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

Size = tuple[int, int]  # (width, height), as Pillow has it

MAX_ASPECT_RATIO = 200  # the Qwen-VL processor refuses longer strips
QWEN_VL_PROCESSOR = "Qwen2VLImageProcessor"  # the class; "...Fast" and "...Pil" are variants
QWEN_VL_MODEL_TYPES = frozenset({"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe"})
# What SGLang's get_processor passes for these model types, over the file's ``size``.
SGLANG_SIZE_FOR = {"qwen2_vl": {"shortest_edge": 3136, "longest_edge": 1003520}}
# transformers' class defaults for Qwen2VLImageProcessor.
QWEN_VL_DEFAULTS = {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280, "patch_size": 14,
                    "merge_size": 2}


@dataclass(frozen=True, slots=True)
class PixelGrid:
    """A Qwen-VL style processor's rules: a pixel range, sides in multiples of ``factor``."""

    family: str
    min_pixels: int
    max_pixels: int
    factor: int  # patch_size * merge_size

    def describe(self) -> str:
        return (f"{self.family}: {self.min_pixels}..{self.max_pixels} pixels, sides in "
                f"multiples of {self.factor}")


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def qwen_vl_grid(model_type: str | None, preprocessor: Mapping[str, Any],
                 overrides: Mapping[str, Any]) -> PixelGrid | None:
    """The Qwen2-VL family's rules (the module contract), or None for another family."""
    processor_type = preprocessor.get("image_processor_type")
    if isinstance(processor_type, str):
        if not processor_type.startswith(QWEN_VL_PROCESSOR):
            return None
    elif model_type not in QWEN_VL_MODEL_TYPES:
        return None
    size = SGLANG_SIZE_FOR.get(model_type or "") or preprocessor.get("size") or {}
    bounds = {"shortest_edge": size.get("shortest_edge", QWEN_VL_DEFAULTS["shortest_edge"]),
              "longest_edge": size.get("longest_edge", QWEN_VL_DEFAULTS["longest_edge"])}
    for layer in (preprocessor, overrides):
        if layer is overrides and "size" in overrides:
            given = overrides["size"] if isinstance(overrides["size"], Mapping) else {}
            bounds = {key: given.get(key) for key in bounds}
        for key, bound in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):
            if layer.get(key) is not None:
                bounds[bound] = layer[key]
    patch = overrides.get("patch_size", preprocessor.get("patch_size",
                                                         QWEN_VL_DEFAULTS["patch_size"]))
    merge = overrides.get("merge_size", preprocessor.get("merge_size",
                                                         QWEN_VL_DEFAULTS["merge_size"]))
    values = [_positive_int(v) for v in (bounds["shortest_edge"], bounds["longest_edge"],
                                         patch, merge)]
    if None in values:
        return None  # the processor would fail on it; leave every image to SGLang's error
    low, high, patch, merge = values
    return PixelGrid("Qwen2-VL", low, high, patch * merge)


FAMILIES: tuple[Callable[[str | None, Mapping[str, Any], Mapping[str, Any]],
                         PixelGrid | None], ...] = (qwen_vl_grid,)


def model_grid(model_type: str | None, preprocessor: Mapping[str, Any] | None,
               overrides: Mapping[str, Any]) -> PixelGrid | None:
    """The served model's rules: the first family in ``FAMILIES`` that knows it."""
    if preprocessor is None:
        return None
    for family in FAMILIES:
        grid = family(model_type, preprocessor, overrides)
        if grid is not None:
            return grid
    return None


def _rounded(size: Size, factor: int) -> Size:
    width, height = size
    return round(width / factor) * factor, round(height / factor) * factor


def _shrunk(size: Size, grid: PixelGrid) -> Size:
    width, height = size
    beta = math.sqrt(width * height / grid.max_pixels)
    return (max(grid.factor, math.floor(width / beta / grid.factor) * grid.factor),
            max(grid.factor, math.floor(height / beta / grid.factor) * grid.factor))


def processor_size(grid: PixelGrid, size: Size) -> Size | None:
    """What the processor resizes ``size`` to; None: an aspect ratio it refuses."""
    width, height = size
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        return None
    rounded_w, rounded_h = _rounded(size, grid.factor)
    if rounded_w * rounded_h > grid.max_pixels:
        return _shrunk(size, grid)
    if rounded_w * rounded_h < grid.min_pixels:
        beta = math.sqrt(grid.min_pixels / (width * height))
        return (math.ceil(width * beta / grid.factor) * grid.factor,
                math.ceil(height * beta / grid.factor) * grid.factor)
    return rounded_w, rounded_h


def fit_within(size: Size, max_side: int, max_pixels: int) -> Size:
    """The largest size with ``size``'s aspect ratio inside both limits (0: no limit)."""
    width, height = size
    scale = 1.0
    if max_side:
        scale = min(scale, max_side / max(width, height))
    if max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return size
    # The epsilon absorbs float error (1000 * (1000/1000) landing on 999.99...).
    return (max(1, math.floor(width * scale + 1e-9)), max(1, math.floor(height * scale + 1e-9)))


def target_size(grid: PixelGrid | None, budget: int, max_side: int, size: Size) -> Size:
    """The size to send for an upright image of ``size`` (see the module contract)."""
    if grid is None:
        return fit_within(size, max_side, budget)
    limited = grid
    if budget and budget < grid.max_pixels:
        limited = replace(grid, max_pixels=max(budget, grid.min_pixels))
    wanted = processor_size(limited, size)
    rounded_w, rounded_h = _rounded(size, grid.factor)
    if wanted is None or rounded_w * rounded_h <= limited.max_pixels:
        return size  # the processor only rounds, enlarges or refuses it: its business
    sent = (min(wanted[0], size[0]), min(wanted[1], size[1]))
    if limited is grid and processor_size(grid, sent) != wanted:
        return size
    return sent
