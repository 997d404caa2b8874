"""Relying parties' back-channel logout endpoints on 127.0.0.1 (OIDC Back-Channel Logout 1.0
§2.5): one server records every POST to any path under its URL, whichever instance or worker
sent it; `failures[path]` makes the first n requests to a path answer 503, to prove retries."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]

    @property
    def logout_token(self) -> str:
        (token,) = self.form["logout_token"]
        return token


class LogoutReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.failures: dict[str, int] = {}
        self._arrived = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                record = Received(
                    self.path, self.headers.get("Content-Type", ""), parse_qs(body.decode())
                )
                failing = receiver.failures.get(self.path, 0) > 0
                if failing:
                    receiver.failures[self.path] -= 1
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._arrived:
                    receiver.received.append(record)
                    receiver._arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on what arrived."""

        return Handler

    def at(self, path: str) -> list[Received]:
        return [record for record in self.received if record.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """The requests to `path` once `count` have arrived; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.at(path)) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{len(self.at(path))} of {count} requests reached {path}"
                self._arrived.wait(remaining)
        return self.at(path)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
