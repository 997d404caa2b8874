"""A real HTTP server on 127.0.0.1 running the real app, in a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, make_server

from idp import create_app
from idp.services.container import Services


@dataclass
class LiveServer:
    url: str
    services: Services
    _server: BaseWSGIServer
    _thread: threading.Thread

    def issuer(self, slug: str) -> str:
        return f"{self.url}/t/{slug}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def start_server(services: Services, port: int) -> LiveServer:
    app = create_app(services=services)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{port}", services, server, thread)
