"""The video decoder's own process: ``python -m sglang_worker.video.decoder_process``.

Contract: one video per process, under ``decoder.child``'s exchange and limits. The job is a
``clip.ClipJob`` as JSON; the answer is the ``ClipFacts`` and the clip as a
``data:video/mp4;base64,`` URL. The video modules are imported only once the limits are set.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

from sglang_worker.decoder.child import Prepare, serve


def _load() -> Prepare:
    from sglang_worker.video.clip import ClipJob, prepare_clip
    from sglang_worker.video.sampling import VideoRules

    def prepare(job: dict[str, Any], data: bytes) -> tuple[bytes, dict[str, Any]]:
        clip, facts = prepare_clip(data, ClipJob(**{**job, "rules": VideoRules(**job["rules"])}))
        return clip, asdict(facts)

    return prepare


if __name__ == "__main__":
    sys.exit(serve(_load, "video/mp4", "video"))
