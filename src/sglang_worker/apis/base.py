"""What every API module is made of: field rules, the ``Api`` record, and the body walk helpers.

Contract:
- ``Rule``: the worker's verdict on one field SGLang reads from a request body, with the reason
  in one line. ``plain`` fields pass untouched; ``media`` fields carry media the worker vets
  itself (or refuses, until it can vet that kind); ``refused`` fields are a 400 that names the
  field and says why, whenever they hold anything but null or false; ``dropped`` fields are
  removed before SGLang sees them. A field SGLang does not read passes untouched: SGLang ignores
  it. ``tests/unit/apis/test_field_audit.py`` fails when SGLang's request models have a field
  that no API module has a rule for, so an upgrade cannot open a hole silently.
- ``Api``: one API's whole knowledge. ``body_model`` checks shape only (the body is forwarded as
  it came), ``fields`` the top-level rules, ``nested`` the rules for SGLang's nested models
  (content parts, embedding inputs) keyed by model name, ``check`` the content rules beyond the
  fields, ``media`` where each medium ("image", "video", "audio") sits in its bodies, and
  ``finish`` what the worker sets on every body of the API (Responses: ``store`` off),
  ``check_model`` the content rules that depend on the served model (``EngineInfo``: rerank's
  content parts), and ``streams`` whether the route can stream at all (``stream: true`` on one
  that cannot, such as embeddings or score, is a 400 rather than a stream that never comes). A
  ``Medium`` is three functions: ``slots``, a lenient walk (never raises) of the places a part
  of that medium may sit; ``part``, the strict reading of one slot (an ``ImagePart``,
  ``VideoPart`` or ``AudioPart``); and ``put``, what a slot becomes once the worker has
  prepared its part. ``count``, ``parts`` and ``with_prepared`` apply them to a body, for any
  medium, so a new medium is a new entry, not new plumbing. ``token_fields`` hold token ids the
  worker checks against the vocabulary, and ``accepts`` says in the caller's words what a field
  of several shapes takes (for shape errors). Which error shape a route answers in is the route's
  (``routes.Route.error_shape``), decided at the door before any API module is looked up.
- A ``Location`` is the path from the body's root to the part, keys and indices alike
  (``("messages", 0, "content", 2)``); ``param_of`` spells it as the caller wrote it
  (``messages[0].content[2]``), and ``replace_at`` returns a copy of the body with new values
  at some locations, copying only the containers on the way and never mutating the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from sglang_worker.audio.parts import AudioPart
from sglang_worker.engine.server import EngineInfo
from sglang_worker.errors import InvalidRequest, media_error
from sglang_worker.images import ImagePart, Location
from sglang_worker.video.parts import VideoPart

Verdict = Literal["plain", "media", "refused", "dropped"]
MediaKind = Literal["image", "video", "audio"]
MEDIA_KINDS: tuple[MediaKind, ...] = ("image", "video", "audio")
Slot = tuple[Location, Any]
Part = ImagePart | VideoPart | AudioPart
_PARTS: dict[str, type[ImagePart] | type[VideoPart] | type[AudioPart]] = {
    "image": ImagePart, "video": VideoPart, "audio": AudioPart}


@dataclass(frozen=True, slots=True)
class Rule:
    verdict: Verdict
    reason: str


def plain(reason: str = "") -> Rule:
    return Rule("plain", reason)


def media(reason: str) -> Rule:
    return Rule("media", reason)


def refused(reason: str) -> Rule:
    return Rule("refused", reason)


def dropped(reason: str) -> Rule:
    return Rule("dropped", reason)


def _no_check(body: dict[str, Any]) -> None:
    return None


def _as_is(old: Any, url: str) -> Any:
    return url


def _any_model(body: dict[str, Any], info: EngineInfo) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Medium:
    """Where one medium sits in an API's bodies (see the module contract)."""

    slots: Callable[[dict[str, Any]], Iterator[Slot]]
    part: Callable[[Location, Any], Part]
    put: Callable[[Any, str], Any] = _as_is


@dataclass(frozen=True)
class Api:
    name: str
    routes: tuple[str, ...]
    body_model: type[BaseModel] | None
    fields: Mapping[str, Rule]
    sglang_models: tuple[str, ...]  # "module:Class" of the request models the fields audit
    nested: Mapping[str, Mapping[str, Rule]] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] = _no_check
    media: Mapping[MediaKind, Medium] = field(default_factory=dict)
    finish: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body
    token_fields: tuple[str, ...] = ()
    accepts: Mapping[str, str] = field(default_factory=dict)  # union fields, in the caller's words
    check_model: Callable[[dict[str, Any], EngineInfo], None] = _any_model
    streams: bool = True

    def count(self, kind: MediaKind, body: Any) -> int:
        """How many parts of medium ``kind`` ``body`` carries; never raises."""
        medium = self.media.get(kind)
        if medium is None or not isinstance(body, dict):
            return 0
        return sum(1 for _ in medium.slots(body))

    def parts(self, kind: MediaKind, body: dict[str, Any]) -> list[Any]:
        """The parts of medium ``kind`` in request order; a malformed one raises that
        medium's ``MediaPartError``."""
        medium = self.media.get(kind)
        if medium is None:
            return []
        return [medium.part(location, value) for location, value in medium.slots(body)]

    def with_prepared(self, kind: MediaKind, body: dict[str, Any],
                      urls: Mapping[Location, str]) -> dict[str, Any]:
        """``body`` with each slot of medium ``kind`` rewritten around its prepared data URL."""
        if not urls:
            return body
        medium = self.media[kind]
        old = dict(medium.slots(body))
        return replace_at(body, {loc: medium.put(old[loc], url) for loc, url in urls.items()})

    def apply_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """Refuse the refused fields (naming them and why), remove the dropped ones."""
        for key, value in body.items():
            rule = self.fields.get(key)
            if rule is not None and rule.verdict == "refused" and value is not None \
                    and value is not False:
                raise InvalidRequest(f"{key} is not supported by this worker: {rule.reason}",
                                     param=key)
        drop = [key for key in body if key in self.fields and self.fields[key].verdict
                == "dropped"]
        return {k: v for k, v in body.items() if k not in drop} if drop else body


def param_of(location: Location) -> str:
    """``("messages", 0, "content", 2)`` -> ``messages[0].content[2]``."""
    text = ""
    for step in location:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def string_part(kind: MediaKind, location: Location, value: Any, what: str) -> Part:
    """A part given as a bare string (``image_data``, an embedding input's ``video``, an
    ``audio_data`` entry)."""
    param = param_of(location)
    if not isinstance(value, str) or not value.strip():
        raise media_error(kind, f"{what} must be a non-empty string (a {kind} URL, a data URL "
                          f"or base64 data), got {type(value).__name__}", param=param)
    return _PARTS[kind](param, value, location)


def refuse_kind(where: str, what: str, kind: Any, allowed: Iterable[str]) -> InvalidRequest:
    return InvalidRequest(f"{where}: {what} {kind!r} is not supported by this worker "
                          f"(supported: {', '.join(sorted(allowed))})", param=where)


def entries(value: Any) -> list[tuple[int, Any]]:
    """The indexed entries of a list; nothing for anything else."""
    return list(enumerate(value)) if isinstance(value, list) else []


def content_parts(body: dict[str, Any], key: str) -> Iterator[tuple[Location, dict[str, Any]]]:
    """Each object of ``body[key][i]["content"]`` (a list), with its location."""
    for i, item in entries(body.get(key)):
        content = item.get("content") if isinstance(item, dict) else None
        for j, part in entries(content):
            if isinstance(part, dict):
                yield (key, i, "content", j), part


def replace_at(body: dict[str, Any], edits: Mapping[Location, Any]) -> dict[str, Any]:
    """A copy of ``body`` with ``edits[location]`` at each location; only the containers on
    the way are copied (once each), so large strings elsewhere are shared, not copied."""
    copies: dict[Location, Any] = {(): dict(body)}

    def container(location: Location) -> Any:
        if location not in copies:
            parent = container(location[:-1])
            original = parent[location[-1]]
            copies[location] = dict(original) if isinstance(original, dict) else list(original)
            parent[location[-1]] = copies[location]
        return copies[location]

    for location, value in edits.items():
        container(location[:-1])[location[-1]] = value
    return copies[()]
