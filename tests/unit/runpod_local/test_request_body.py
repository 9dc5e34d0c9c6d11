"""Request-size limits and body parsing of the local endpoint (pure)."""

import pytest

from runpod_local.request_body import OPENAI_LIMIT, RUN_LIMIT, RUNSYNC_LIMIT, runsync_wait_s
from sglang_worker.errors import InvalidRequest
from sglang_worker.http.body import parse_json_object, too_large_message


def test_limits_are_runpods_in_decimal_megabytes():
    assert (RUN_LIMIT, RUNSYNC_LIMIT, OPENAI_LIMIT) == (10_000_000, 20_000_000, 20_000_000)


def test_too_large_message_names_size_limit_route_and_the_fix():
    assert too_large_message(RUN_LIMIT, RUN_LIMIT, "POST /run") is None
    message = too_large_message(12_345_678, RUN_LIMIT, "POST /run")
    assert message.startswith("request body is 12.3 MB, over the 10 MB limit of POST /run")
    assert "URLs instead of base64" in message


def test_parse_json_object():
    assert parse_json_object(b'{"input": 1}') == {"input": 1}
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        parse_json_object(b"{")
    with pytest.raises(InvalidRequest, match="must be a JSON object, got list"):
        parse_json_object(b"[]")


@pytest.mark.parametrize("value, expected", [
    (None, 90.0), ("120000", 120.0), ("5", 1.0), ("9999999", 300.0), ("soon", 90.0),
    ("inf", 90.0), ("nan", 90.0),
])
def test_runsync_wait_is_clamped_like_runpods(value, expected):
    assert runsync_wait_s(value, 90.0) == expected
