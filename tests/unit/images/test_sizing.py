"""The sizing rules against transformers' own Qwen2-VL image processor, and the config reading.

The oracle is the installed transformers (the version SGLang 0.5.23 runs with): its
``smart_resize`` and the processor class's ``image_grid_thw`` for real images.
"""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image
from transformers.models.qwen2_vl.image_processing_qwen2_vl import (
    Qwen2VLImageProcessor,
    smart_resize,
)

from sglang_worker.images.normalise import ImageLimits, normalise_image
from sglang_worker.images.sizing import (
    PixelGrid,
    model_grid,
    processor_size,
    target_size,
)
from tests.support import image_corpus as corpus

TINY = PixelGrid("Qwen2-VL", 3136, 12544, 28)
QWEN25 = PixelGrid("Qwen2-VL", 3136, 12845056, 28)
QWEN3 = PixelGrid("Qwen2-VL", 65536, 16777216, 32)
GRIDS = (TINY, QWEN25, QWEN3, PixelGrid("Qwen2-VL", 3136, 1003520, 28))


def boundary_sizes(grid: PixelGrid) -> list[tuple[int, int]]:
    """Tiny, 1:8 panoramic, portrait and odd sizes, and sizes just above and below each
    rounding boundary: half a factor (round), the maximum and the minimum pixel count."""
    f = grid.factor
    sizes = [(1, 1), (7, 5), (27, 29), (56, 56), (8000, 1000), (1000, 8000), (3000, 4000),
             (4000, 3000), (6000, 4000), (1023, 767), (1921, 1079), (333, 4999), (4001, 17),
             (200, 1), (5000, 26)]
    for k in (2, 3, 17, 40):
        half = k * f + f // 2
        for side in (half - 1, half, half + 1):
            sizes += [(side, 3 * f), (5 * f + 3, side)]
    for target in (grid.max_pixels, grid.min_pixels):
        for ratio in (1.0, 4 / 3, 16 / 9, 8.0):
            h = math.sqrt(target / ratio)
            w = target / h
            for dw, dh in ((-1, 0), (0, 0), (1, 0), (1, 1), (0, -1)):
                sizes.append((max(1, round(w) + dw), max(1, round(h) + dh)))
    return sizes


def oracle(grid: PixelGrid, size: tuple[int, int]) -> tuple[int, int] | None:
    try:
        h, w = smart_resize(size[1], size[0], grid.factor, grid.min_pixels, grid.max_pixels)
    except ValueError:
        return None
    return w, h


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: f"{g.max_pixels}/{g.factor}")
def test_processor_size_is_transformers_smart_resize(grid):
    for size in boundary_sizes(grid):
        assert processor_size(grid, size) == oracle(grid, size), size


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: f"{g.max_pixels}/{g.factor}")
def test_what_the_worker_sends_gets_the_same_processor_size_as_the_original(grid):
    shrunk = 0
    for size in boundary_sizes(grid):
        sent = target_size(grid, 0, 0, size)
        assert sent[0] <= size[0] and sent[1] <= size[1], size  # never upscaled
        assert oracle(grid, sent) == oracle(grid, size), (size, sent)
        if sent != size:
            shrunk += 1
            assert oracle(grid, sent) == sent  # the processor has nothing left to resize
    assert shrunk > 10


def test_an_image_the_processor_only_rounds_or_enlarges_is_left_alone():
    assert target_size(QWEN25, 0, 0, (1024, 768)) == (1024, 768)  # rounds to 1036x756
    assert target_size(QWEN25, 0, 0, (4000, 3000)) == (4000, 3000)  # rounds to 4004x2996
    assert target_size(TINY, 0, 0, (40, 30)) == (40, 30)  # enlarged to the minimum
    assert target_size(TINY, 0, 0, (4000, 3000)) == (112, 84)


def test_a_lower_budget_lowers_the_maximum_but_never_below_the_minimum():
    assert target_size(QWEN25, 512 * 512, 0, (4000, 3000)) == (588, 420)
    assert target_size(QWEN25, 512 * 512, 0, (4000, 3000)) == oracle(
        PixelGrid("Qwen2-VL", 3136, 512 * 512, 28), (4000, 3000))
    assert target_size(TINY, 10, 0, (4000, 3000)) == (56, 28)
    assert target_size(QWEN25, 10**9, 0, (6000, 4000)) == oracle(QWEN25, (6000, 4000))


def test_without_a_grid_the_generic_limits_apply():
    assert target_size(None, 0, 1280, (4000, 3000)) == (1280, 960)
    assert target_size(None, 1_000_000, 0, (4000, 3000)) == (1154, 866)
    assert target_size(None, 0, 0, (4000, 3000)) == (4000, 3000)


@pytest.mark.parametrize("size", [(4000, 3000), (3001, 2001), (8000, 1000), (1000, 8000),
                                  (641, 479), (300, 2400), (130, 95), (57, 57)])
@pytest.mark.parametrize("orientation", [1, 6, 8, 3])
def test_the_processor_class_gives_a_prepared_image_the_original_grid(size, orientation):
    """End to end against the processor class: the bytes ``normalise_image`` returns, decoded
    as SGLang decodes them (EXIF applied), give the image grid of the original."""
    processor = Qwen2VLImageProcessor(min_pixels=TINY.min_pixels, max_pixels=TINY.max_pixels)
    data = corpus.jpeg(size, orientation=None if orientation == 1 else orientation)
    prepared = normalise_image(data, ImageLimits(100_000_000, 4096, 0, 95, TINY))

    def grid_of(blob: bytes) -> list[int]:
        from PIL import ImageOps

        im = ImageOps.exif_transpose(Image.open(io.BytesIO(blob))).convert("RGB")
        return processor(images=[im], return_tensors="np")["image_grid_thw"].tolist()

    assert grid_of(prepared.data) == grid_of(data)
    upright = size[::-1] if orientation in (6, 8) else size
    assert prepared.size_in == upright


def test_an_image_within_the_target_passes_through_byte_for_byte():
    data = corpus.jpeg((112, 84))
    result = normalise_image(data, ImageLimits(100_000_000, 4096, 0, 95, TINY))
    assert result.data is data and not result.changed


TINY_FILE = {"image_processor_type": "Qwen2VLImageProcessor", "min_pixels": 3136,
             "max_pixels": 12544, "patch_size": 14, "merge_size": 2,
             "size": {"shortest_edge": 3136, "longest_edge": 12544}}


def test_model_grid_reads_the_qwen_family_as_sglang_and_transformers_apply_it():
    assert model_grid("qwen2_vl", TINY_FILE, {}) == TINY
    # Qwen3-VL: size only, patch 16.
    qwen3 = {"image_processor_type": "Qwen2VLImageProcessorFast", "patch_size": 16,
             "merge_size": 2, "size": {"shortest_edge": 65536, "longest_edge": 16777216}}
    assert model_grid("qwen3_vl", qwen3, {}) == QWEN3
    # For qwen2_vl SGLang passes its own size, which beats the file's size (not min/max_pixels).
    size_only = {"image_processor_type": "Qwen2VLImageProcessor",
                 "size": {"shortest_edge": 3136, "longest_edge": 50176}}
    assert model_grid("qwen2_vl", size_only, {}).max_pixels == 1003520
    assert model_grid("qwen2_5_vl", size_only, {}).max_pixels == 50176
    # --mm-process-config image settings: min/max_pixels one bound each, size both.
    assert model_grid("qwen2_vl", TINY_FILE, {"max_pixels": 50176}).max_pixels == 50176
    assert model_grid("qwen2_vl", TINY_FILE, {"size": {"shortest_edge": 784,
                                                         "longest_edge": 6272}}) == PixelGrid(
        "Qwen2-VL", 784, 6272, 28)
    assert model_grid("qwen2_vl", TINY_FILE, {"size": {"longest_edge": 6272}}) is None
    # No image_processor_type: the model type decides; the class defaults fill the rest.
    assert model_grid("qwen2_5_vl", {}, {}) == PixelGrid("Qwen2-VL", 3136, 1003520, 28)
    assert model_grid("llava", {"image_processor_type": "CLIPImageProcessor"}, {}) is None
    assert model_grid("qwen2_vl", None, {}) is None


def test_model_grid_matches_the_processor_sglang_loads(tmp_path):
    """The real loader (SGLang's get_processor over transformers) on a file with ``size``
    only: SGLang's own size wins for qwen2_vl, as ``model_grid`` says."""
    import json
    import shutil

    from sglang.srt.utils.hf_transformers.processor import get_processor

    from tests.support.paths import PROJECT_ROOT

    model = tmp_path / "model"
    shutil.copytree(PROJECT_ROOT / ".cache" / "models" / "tiny-qwen2-vl", model)
    config = {k: v for k, v in TINY_FILE.items() if k not in ("min_pixels", "max_pixels")}
    config["size"] = {"shortest_edge": 3136, "longest_edge": 50176}
    full = json.loads((model / "preprocessor_config.json").read_text())
    full.pop("min_pixels"), full.pop("max_pixels")
    full["size"] = config["size"]
    (model / "preprocessor_config.json").write_text(json.dumps(full))
    loaded = get_processor(str(model), model_name=str(model)).image_processor
    grid = model_grid("qwen2_vl", full, {})
    assert (grid.min_pixels, grid.max_pixels) == (loaded.size["shortest_edge"],
                                                  loaded.size["longest_edge"])
