"""Outbound calls to client-registered URLs: a name that resolves to a private address is refused
before any connection when the URL came from a stranger, and the calls themselves behave."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from idp.services.outbound import OutboundError, UnsafeDestination, call


class Recorder(BaseHTTPRequestHandler):
    """Answers GET with a fixed body and records what POST bodies and Host headers arrive."""

    received: list[tuple[str, dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        body = b"x" * 2048 if self.path == "/big" else b'{"keys": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        fields = parse_qs(self.rfile.read(length).decode())
        self.received.append((self.headers["Host"], fields))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet: the test output is for failures."""


@pytest.fixture
def receiver() -> Iterator[str]:
    Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_trusted_url_is_fetched(receiver: str) -> None:
    reply = call("GET", f"{receiver}/jwks", public_only=False, max_bytes=1024)
    assert (reply.status, reply.body) == (200, b'{"keys": []}')


def test_fields_are_posted_form_encoded_with_the_original_host(receiver: str) -> None:
    reply = call(
        "POST", f"{receiver}/logout", public_only=False, max_bytes=1024, fields={"a": "b c"}
    )
    assert reply.status == 204
    host = receiver.removeprefix("http://")
    assert Recorder.received == [(host, {"a": ["b c"]})]


def test_a_body_over_the_limit_is_refused(receiver: str) -> None:
    with pytest.raises(OutboundError):
        call("GET", f"{receiver}/big", public_only=False, max_bytes=1024)


def test_a_public_looking_name_of_a_loopback_address_is_refused_before_connecting(
    receiver: str,
) -> None:
    """The machine's own host name resolves to a loopback address, like a rebinding attack's."""
    port = receiver.rsplit(":", 1)[1]
    with pytest.raises(UnsafeDestination):
        call("POST", f"http://localhost:{port}/logout", public_only=True, max_bytes=1024, fields={})
    assert Recorder.received == []


@pytest.mark.parametrize(
    "uri", ["ftp://example.com/x", "http:///nohost", "https://example.com:99999/x"]
)
def test_malformed_urls_are_refused(uri: str) -> None:
    with pytest.raises(UnsafeDestination):
        call("GET", uri, public_only=True, max_bytes=1024)


def test_an_unresolvable_name_is_a_call_failure() -> None:
    with pytest.raises(OutboundError):
        call("GET", "https://no-such-host.invalid/jwks", public_only=True, max_bytes=1024)
