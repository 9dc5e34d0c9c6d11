"""A loopback stand-in for the Hugging Face hub's file endpoint, for ``HF_ENDPOINT``.

``HubStandIn(answers)`` serves ``HEAD``/``GET /{org}/{name}/resolve/{revision}/{file}``:
``answers`` maps ``"org/name@revision"`` (or ``"org/name"`` for any revision) to a status and
the hub's error code header (``RepoNotFound``, ``GatedRepo``, ``RevisionNotFound``), as
huggingface_hub reads them. A 200 carries the headers of a real answer (ETag, commit, size).
Anything not listed is a ``RepoNotFound`` 404. ``requests`` records each path and whether an
``Authorization`` header came with it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = b'{"model_type": "qwen2_vl"}'


class HubStandIn:
    def __init__(self, answers: dict[str, tuple[int, str | None]]):
        self.answers = answers
        self.requests: list[tuple[str, bool]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                stand_in.requests.append((self.path, "Authorization" in self.headers))
                parts = self.path.split("?")[0].strip("/").split("/")
                repo, revision = "/".join(parts[:2]), parts[3] if len(parts) > 3 else ""
                status, code = stand_in.answers.get(
                    f"{repo}@{revision}", stand_in.answers.get(repo, (404, "RepoNotFound")))
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                if status == 401 and not code:
                    self.send_header("X-Error-Message",
                                     "Invalid credentials in Authorization header")
                if status == 200:
                    self.send_header("ETag", '"abc123"')
                    self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("Content-Length", str(len(CONFIG) if status == 200 else 0))
                self.end_headers()

            def do_GET(self) -> None:
                self.do_HEAD()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
