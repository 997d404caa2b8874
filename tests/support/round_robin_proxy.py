"""A reverse proxy on 127.0.0.1 that sends each *request* to the next backend in turn.

Load balancers usually balance connections; this one balances requests, so a browser's
keep-alive connection cannot pin a flow to one instance and every step of it may land on
another. The Host header passes through unchanged and no X-Forwarded-* is added: the
instances' `public_url` is the proxy's own URL, so they need not trust any proxy header.
Each forwarded request uses a new backend connection; the body is relayed whole.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# RFC 9110 §7.6.1: connection-specific fields, meaningful for one hop only.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
BACKEND_TIMEOUT = 30


class RoundRobinProxy:
    def __init__(self, backends: Sequence[str], port: int = 0) -> None:
        self.backends = [urlsplit(url) for url in backends]
        self._turns = itertools.cycle(range(len(self.backends)))
        self._lock = threading.Lock()
        self.forwarded = [0] * len(self.backends)  # requests sent to each backend
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _next(self) -> int:
        with self._lock:
            turn = next(self._turns)
            self.forwarded[turn] += 1
            return turn

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive towards the client

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else None
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in HOP_BY_HOP
                }
                backend = proxy.backends[proxy._next()]
                upstream = http.client.HTTPConnection(
                    backend.hostname, backend.port, timeout=BACKEND_TIMEOUT
                )
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                self.send_response_only(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _relay

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the instances' access logs say where each request went."""

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
