"""The audio decoder's own process: ``python -m sglang_worker.audio.decoder_process``.

Contract: one audio file per process, under ``decoder.child``'s exchange and limits. The job is
a ``track.TrackJob`` as JSON; the answer is the ``TrackFacts`` and the track as a
``data:audio/x-matroska;base64,`` URL. The audio modules are imported only once the limits are
set.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

from sglang_worker.decoder.child import Prepare, serve

MIME = "audio/x-matroska"


def _load() -> Prepare:
    from sglang_worker.audio.rules import AudioRules
    from sglang_worker.audio.track import TrackJob, prepare_track

    def prepare(job: dict[str, Any], data: bytes) -> tuple[bytes, dict[str, Any]]:
        track, facts = prepare_track(data, TrackJob(**{**job,
                                                       "rules": AudioRules(**job["rules"])}))
        return track, asdict(facts)

    return prepare


if __name__ == "__main__":
    sys.exit(serve(_load, MIME, "audio"))
