"""Decompression bombs cost (almost) no memory: refused from the header, never decoded.

Measured in a fresh process: its peak RSS (ru_maxrss) after refusing every bomb in the corpus,
against its peak before. Decoding just one of them would take gigabytes.
"""

import json
import subprocess
import sys

from tests.support.paths import PROJECT_ROOT

BOUND_MB = 64

PROBE = """
import json, resource
from sglang_worker.errors import ImageError
from sglang_worker.images.normalise import ImageLimits, normalise_image
from tests.support import image_corpus as corpus

bombs = [corpus.png_bomb(), corpus.gif_bomb(), corpus.bmp_bomb(), corpus.jpeg_bomb(),
         corpus.webp_bomb(), corpus.tiff_bomb()]
limits = ImageLimits(max_pixels=100_000_000, max_side=4096, target_pixels=0, jpeg_quality=90,
                     allow_tiff=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
refused = 0
for bomb in bombs:
    try:
        normalise_image(bomb, limits)
    except ImageError:
        refused += 1
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"bombs": len(bombs), "refused": refused, "growth_kb": after - before}))
"""


def test_every_bomb_is_refused_with_bounded_peak_memory():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["refused"] == result["bombs"] == 6
    assert result["growth_kb"] < BOUND_MB * 1024, result
    print(f"peak RSS growth refusing {result['bombs']} bombs: {result['growth_kb']} KB")
