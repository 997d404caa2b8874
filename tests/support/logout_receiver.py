"""A relying party's back-channel logout endpoint on 127.0.0.1 (OIDC Back-Channel Logout 1.0
§2.5): it records every logout token POSTed to it, whichever instance or worker sent it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class LogoutReceiver:
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self._arrived = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/backchannel-logout"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                tokens = parse_qs(body.decode()).get("logout_token", [])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._arrived:
                    receiver.tokens += tokens
                    receiver._arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on what arrived."""

        return Handler

    def wait_for_token(self, timeout: float = 30.0) -> str:
        """The first logout token to arrive; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not self.tokens:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "no logout token arrived"
                self._arrived.wait(remaining)
            return self.tokens[0]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
