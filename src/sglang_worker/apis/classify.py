"""SGLang's classification API (``/v1/classify``): a sequence classifier's label and class
probabilities for each input; no media.

Contract:
- ``input``: a string, a list of strings, or one list of token ids (SGLang's
  ``ClassifyInput``); token ids are checked against the vocabulary (one outside it crashes the
  engine, measured here), and an empty string or an empty entry is refused (a zero-token
  sequence crashes SGLang's scheduler).
- It answers only on a model served with ``--is-embedding`` whose config has ``id2label`` or
  ``num_labels``; elsewhere SGLang's own 400 says so.
- Errors on this route take SGLang's own top-level shape (``routes.Route.error_shape``).
"""

from __future__ import annotations

from pydantic import StrictInt, field_validator

from sglang_worker.apis.base import Api, plain
from sglang_worker.apis.rules import ENGINE_ONLY, SCHEDULING
from sglang_worker.apis.shapes import Open, not_empty
from sglang_worker.routes import CLASSIFY_ROUTE


class ClassifyBody(Open):
    input: str | list[str] | list[StrictInt]
    model: str | None = None

    _not_empty = field_validator("input")(classmethod(lambda cls, value: not_empty(value)))


FIELDS = {
    "rid": ENGINE_ONLY["rid"], "priority": SCHEDULING["priority"],
    "input": plain("texts or token ids, checked against the vocabulary"),
    "model": plain("the served model"),
    "user": plain("caller tag"),
}

API = Api(
    name="classify", routes=(CLASSIFY_ROUTE,), body_model=ClassifyBody, fields=FIELDS,
    sglang_models=("sglang.srt.entrypoints.openai.protocol:ClassifyRequest",),
    token_fields=("input",), streams=False,
    accepts={"input": "a non-empty string, a list of strings, or a list of token ids"},
)
