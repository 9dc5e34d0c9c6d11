"""The byte limits of one request's images: per image and in total, with the refusals' words.

Contract:
- One ``ImageBudget`` lives for one request. ``check_size`` refuses an image whose size is known
  up front (Content-Length, a file's size, a base64 payload's length) before it is read;
  ``take`` counts bytes as they arrive and refuses the chunk that crosses a limit, so a download
  stops there instead of finishing first.
- Every distinct image counts once: the orchestrator shares one result between parts that
  repeat the same source, and only calls the budget for the first.
- Messages name the limit's environment variable, e.g.
  "image is 31.4 MB, over the 20 MB limit (MAX_IMAGE_BYTES)".
"""

from __future__ import annotations

from sglang_worker.errors import media_error

KB = 1024
MB = 1024 * 1024


def describe_size(n: int) -> str:
    """A byte count as a person reads it: "31.4 MB", "12 KB", "900 bytes"."""
    if n >= MB:
        return f"{n / MB:.1f}".removesuffix(".0") + " MB"
    if n >= KB:
        return f"{n / KB:.1f}".removesuffix(".0") + " KB"
    return f"{n} bytes"


class ImageBudget:
    def __init__(self, *, per_image: int, total: int, noun: str = "image") -> None:
        self.noun = noun  # "video": the same accounting for video, worded and named for it
        self.per_image = per_image
        self.total = total
        self.used = 0

    def check_size(self, size: int, *, approximate: bool = False) -> None:
        """Refuse an image of ``size`` bytes before reading it."""
        about = "about " if approximate else ""
        if size > self.per_image:
            raise media_error(self.noun, f"{self.noun} is {about}{describe_size(size)}, over "
                              f"the {describe_size(self.per_image)} limit "
                              f"(MAX_{self.noun.upper()}_BYTES)")
        if self.used + size > self.total:
            self._refuse_total()

    def take(self, received: int, chunk: int) -> None:
        """Count ``chunk`` more bytes of an image of which ``received`` bytes (the chunk
        included) have arrived so far."""
        if received > self.per_image:
            raise media_error(self.noun, f"{self.noun} is larger than the "
                              f"{describe_size(self.per_image)} limit "
                              f"(MAX_{self.noun.upper()}_BYTES)")
        self.used += chunk
        if self.used > self.total:
            self._refuse_total()

    def _refuse_total(self) -> None:
        plural = "audio files" if self.noun == "audio" else f"{self.noun}s"
        raise media_error(self.noun, f"the {plural} of this request total more than "
                          f"{describe_size(self.total)}, the limit "
                          f"(MAX_TOTAL_{self.noun.upper()}_BYTES)")
