"""Issue 10 through the local endpoint's OpenAI route: the request target is handed to the worker
as sent, and no spelling reaches an admin route. SGLang's own request log, in the endpoint's
output, is the witness."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import quote

import pytest

from tests.support.engine_log import served_between
from tests.support.fuzz_strategies import HOSTILE_ROUTES
from tests.support.raw_http import send_raw

pytestmark = pytest.mark.integration


def http_target(spelling: str) -> str:
    """The spelling under RunPod's /openai prefix, with only what cannot stand in a request line
    (controls, spaces, non-ASCII) percent-encoded."""
    target = "/openai" + spelling if spelling.startswith("/v1") else "/openai/v1" + spelling
    return quote(target, safe="".join(chr(c) for c in range(0x21, 0x7f)))


def test_hostile_spellings_get_a_400_naming_openai_route_and_reach_nothing(local_endpoint):
    assert send_raw(local_endpoint.url, "GET", "/openai/v1/models")[0] == 200
    for spelling in HOSTILE_ROUTES:
        for method in ("GET", "POST"):
            status, body = send_raw(local_endpoint.url, method, http_target(spelling))
            assert status == 400, (spelling, method, status, body)
            assert body["error"]["param"] == "openai_route", (spelling, body)
            assert "is not a valid route" in body["error"]["message"]
    # A model this endpoint does not serve: the worker answers from SGLang's list.
    status, body = send_raw(local_endpoint.url, "GET", "/openai/v1/models/tiny-org/qwen2-vl")
    assert status == 404 and "'tiny-org/qwen2-vl' does not exist" in body["error"]["message"]
    marker = urllib.request.Request(  # a job: /model_info is not under the OpenAI route
        f"{local_endpoint.url}/runsync", data=json.dumps(
            {"input": {"openai_route": "/model_info"}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(marker, timeout=60) as response:
        assert json.loads(response.read())["status"] == "COMPLETED"
    assert served_between(lambda: local_endpoint.log().splitlines(), "/v1/models",
                          "/model_info") == []
