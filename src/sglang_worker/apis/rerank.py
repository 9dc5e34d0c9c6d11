"""SGLang's reranking API (``/v1/rerank``): documents ordered against a query, each of them text
or, for a multimodal reranker, a list of text, image and video parts.

Contract:
- ``query``: a string or a list of content parts; ``documents``: a list whose entries are each a
  string or a list of content parts. SGLang checks emptiness itself ("Query cannot be empty");
  ``top_n`` below 1 is refused here, because SGLang's own refusal of it quotes its source file
  and line. ``instruct`` passes to the reranker's template.
- Content parts: ``text``, ``image_url`` and ``video_url`` only (SGLang's ``RerankContentPart``);
  any other type is refused naming the part (``documents[2][1]``). Each image part is fetched,
  checked, bounded and sized like a chat image and becomes ``{"type": "image_url",
  "image_url": {"url": <data URL>}}``; each video part is probed, bounded and re-encoded like a
  chat video. Neither reaches SGLang as the caller sent it.
- Content parts are served only when SGLang's rerank renders them for the served model
  (``EngineInfo.rerank_media``: its Qwen3-VL reranker path, see ``engine.model_files``). For any
  other model SGLang's text paths keep a part's text and drop its images and videos without a
  word, so a query or document given as parts is a 400 there that says to send text as a string.
- ``return_documents``: SGLang echoes a document only as a string and fails on one made of parts.
  A body with such documents gets ``return_documents: false`` when the caller did not set it
  (each result's ``index`` names its document); an explicit ``true`` is a 400 that says so.
- Errors on this route take SGLang's own top-level shape (``routes.Route.error_shape``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field, StrictInt

from sglang_worker.apis.base import (
    Api,
    Medium,
    Slot,
    entries,
    media,
    param_of,
    plain,
    refuse_kind,
)
from sglang_worker.apis.chat import image_part, image_url_part, video_part, video_url_part
from sglang_worker.apis.shapes import Open
from sglang_worker.engine.server import EngineInfo
from sglang_worker.errors import InvalidRequest
from sglang_worker.images import Location
from sglang_worker.routes import RERANK_ROUTE

PARTS = frozenset({"text", "image_url", "video_url"})
_CONTENT = "a string or a list of text, image_url and video_url parts"


class RerankBody(Open):
    query: str | list[dict[str, Any]]
    documents: list[str | list[dict[str, Any]]] = Field(min_length=1)
    top_n: StrictInt | None = Field(default=None, ge=1)


FIELDS = {
    "query": media("text, or text, image and video parts whose media the worker vets"),
    "documents": media("texts, or lists of text, image and video parts whose media the worker "
                       "vets"),
    "instruct": plain("the reranker's instruction"),
    "top_n": plain("how many results to return; SGLang checks it"),
    "return_documents": plain("echo each document; off for documents made of parts, which "
                              "SGLang can echo only as strings"),
}


def _contents(body: dict[str, Any]) -> Iterator[tuple[Location, list[Any]]]:
    """Each list of content parts, with its location: the query's, then each document's."""
    query = body.get("query")
    if isinstance(query, list):
        yield ("query",), query
    for i, document in entries(body.get("documents")):
        if isinstance(document, list):
            yield ("documents", i), document


def _parts(body: dict[str, Any]) -> Iterator[tuple[Location, dict[str, Any]]]:
    for location, content in _contents(body):
        for j, part in entries(content):
            if isinstance(part, dict):
                yield (*location, j), part


def _part_documents(body: dict[str, Any]) -> bool:
    return any(location[0] == "documents" for location, _ in _contents(body))


def check(body: dict[str, Any]) -> None:
    for location, part in _parts(body):
        if part.get("type") not in PARTS:
            raise refuse_kind(param_of(location), "content part type", part.get("type"), PARTS)
    if body.get("return_documents") is True and _part_documents(body):
        raise InvalidRequest(
            "return_documents cannot be true when documents are made of content parts: SGLang "
            "returns documents only as strings; set it to false, and each result's index names "
            "its document", param="return_documents")


def finish(body: dict[str, Any]) -> dict[str, Any]:
    if "return_documents" not in body and _part_documents(body):
        return {**body, "return_documents": False}
    return body


def check_model(body: dict[str, Any], info: EngineInfo) -> None:
    if info.rerank_media:
        return
    for location, _ in _contents(body):
        where = param_of(location)
        raise InvalidRequest(
            f"{where} is a list of content parts, but the served model's reranker reads text "
            "only (SGLang would keep the parts' text and drop their images and videos); send "
            f"{where} as a string, or serve a multimodal reranker such as Qwen3-VL-Reranker",
            param=where)


def _slots(kind: str) -> Any:
    def slots(body: dict[str, Any]) -> Iterator[Slot]:
        return ((location, part) for location, part in _parts(body) if part.get("type") == kind)

    return slots


API = Api(
    name="rerank", routes=(RERANK_ROUTE,), body_model=RerankBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:V1RerankReqInput",),
    check=check, finish=finish, check_model=check_model, streams=False,
    media={"image": Medium(_slots("image_url"), image_part, image_url_part),
           "video": Medium(_slots("video_url"), video_part, video_url_part)},
    accepts={"query": _CONTENT, "documents": f"a list whose entries are each {_CONTENT}",
             "documents[]": _CONTENT},
)
