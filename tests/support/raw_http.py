"""One HTTP request with its target sent exactly as written (dot segments, escapes and all),
which the HTTP client libraries would normalise: for tests of the route guard."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit


def send_raw(url: str, method: str, target: str, timeout: float = 60) -> tuple[int, dict]:
    """``method target`` to the server at ``url``; a POST carries ``{"x": 1}``. Returns the
    status and the JSON body (``{}`` when empty)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body = json.dumps({"x": 1}) if method == "POST" else None
        connection.request(method, target, body=body,
                           headers={"Content-Type": "application/json"} if body else {})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()
