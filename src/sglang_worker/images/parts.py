"""What the image pipeline takes: one image part, found in a body by an API module (``apis``).

Contract:
- ``ImagePart(param, source, location, detail)``: ``param`` names the part as the caller wrote
  it (``messages[0].content[2]``) for errors; ``source`` is the URL, data URL or base64 text;
  ``location`` is an opaque, hashable key the API module uses to put the prepared image back;
  ``detail`` is OpenAI's ``"low"``, ``"high"``, ``"auto"`` or None.
- ``check_detail`` refuses any other ``detail``. The pipeline knows nothing of body layouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sglang_worker.errors import ImageError

Location = tuple[str | int, ...]
DETAILS = ("low", "high", "auto")


@dataclass(frozen=True, slots=True)
class ImagePart:
    param: str
    source: str
    location: Location
    detail: str | None = None


def check_detail(detail: Any, param: str, name: str = "detail") -> str | None:
    if detail is not None and detail not in DETAILS:
        raise ImageError(f'{name} must be "low", "high" or "auto", got {detail!r:.40}',
                         param=param)
    return detail
