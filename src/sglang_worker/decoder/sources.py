"""What the decoded media (video, audio) share on the worker's side before their children run:
reading a part's bytes, and preparing a request's parts together.

Contract:
- ``read_bytes(text, noun, fetcher, budget, local_dir)``: the bytes of one source as the image
  pipeline reads one (``images.source``: a data URL or bare base64, an ``https`` URL through
  the guarded fetcher, or a local file only below ``local_dir``, the medium's
  ``<NOUN>_LOCAL_DIR``), counted against ``budget`` (``MAX_<NOUN>_BYTES`` and
  ``MAX_TOTAL_<NOUN>_BYTES``). Errors are the medium's ``MediaPartError``, without a ``param``.
- ``prepare_each(parts, one)``: ``one(part)`` for every part, concurrently; the first failure
  cancels the others, and of failures that land together the earliest in the request is
  raised (``errors.earliest_media_error``). The results come back in request order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sglang_worker.errors import earliest_media_error
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.images.source import (
    InlineSource,
    RemoteSource,
    classify,
    decode_inline,
    estimated_size,
    read_local_file,
)


class NamedPart(Protocol):
    @property
    def param(self) -> str: ...


P = TypeVar("P", bound=NamedPart)
R = TypeVar("R")


async def read_bytes(text: str, noun: str, fetcher: ImageFetcher, budget: ImageBudget,
                     local_dir: Path | None) -> bytes:
    """The bytes of one media source (see the module contract)."""
    source = classify(text, noun)
    if isinstance(source, RemoteSource):
        return await fetcher.fetch(source.url, budget)
    if isinstance(source, InlineSource):
        budget.check_size(estimated_size(source), approximate=True)
        data, _ = await asyncio.to_thread(decode_inline, source, noun)
    else:
        data = await asyncio.to_thread(read_local_file, source, local_dir, budget, noun)
    budget.take(len(data), len(data))
    return data


async def prepare_each(parts: Sequence[P], one: Callable[[P], Awaitable[R]]) -> list[R]:
    """``one(part)`` for every part, together (see the module contract)."""
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(part)) for part in parts]
    except BaseExceptionGroup as failures:
        raise earliest_media_error(failures, [part.param for part in parts]) from None
    return [task.result() for task in tasks]
