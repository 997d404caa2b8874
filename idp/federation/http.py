"""The one way federation talks to an upstream: short timeouts, no redirects, bounded JSON.

Upstream URLs are set by a tenant admin (or published in the discovery document of the issuer
the admin set), so unlike a self-registered client's URLs (services/outbound.py) loopback and
private addresses are allowed: test upstreams and in-house providers live there. What an
upstream answers is still untrusted: bodies are capped, redirects are not followed (a token
endpoint that redirects is broken or hostile), and every failure becomes an `UpstreamError`
so no transport exception reaches a page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from idp.federation.base import UpstreamError

if TYPE_CHECKING:
    import urllib3

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class JsonReply:
    """An upstream's answer: its status and its body parsed as JSON."""

    status: int
    data: Any


class UpstreamHttp:
    """Calls upstream URLs; one instance is shared, its pool reused across requests.

    The timeouts are a few seconds: a person is waiting on the callback page, and an upstream
    that hangs must turn into a message rather than a stuck worker. The pool (and urllib3) is
    made at the first call, not in every worker at start.
    """

    def __init__(self, connect_timeout: float = 3.0, read_timeout: float = 5.0) -> None:
        self._timeouts = (connect_timeout, read_timeout)

    @cached_property
    def _pool(self) -> urllib3.PoolManager:
        import urllib3

        connect, read = self._timeouts
        return urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect, read=read), retries=False, maxsize=4
        )

    def get_json(self, url: str, headers: dict[str, str] | None = None) -> JsonReply:
        return self._call("GET", url, headers or {}, body=None)

    def post_form(
        self, url: str, fields: dict[str, str], headers: dict[str, str] | None = None
    ) -> JsonReply:
        body = urlencode(fields)
        content = {"Content-Type": "application/x-www-form-urlencoded"}
        return self._call("POST", url, {**content, **(headers or {})}, body=body.encode())

    def post_json(
        self, url: str, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> JsonReply:
        content = {"Content-Type": "application/json"}
        body = json.dumps(payload).encode()
        return self._call("POST", url, {**content, **(headers or {})}, body=body)

    def _call(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> JsonReply:
        if not url.startswith(("https://", "http://")):
            raise UpstreamError("bad_response", "an upstream URL is not http(s)")
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json", "User-Agent": "idp", **headers}
        try:
            response = self._pool.request(
                method, url, body=body, headers=headers, redirect=False, preload_content=False
            )
            raw = response.read(MAX_BODY + 1, decode_content=True)
            response.release_conn()
        except (HTTPError, OSError, ValueError) as error:
            raise UpstreamError(
                "unreachable", f"{type(error).__name__} calling upstream"
            ) from error
        if len(raw) > MAX_BODY:
            raise UpstreamError("bad_response", "the upstream's answer is too large")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise UpstreamError("bad_response", f"HTTP {response.status}, not JSON") from error
        return JsonReply(response.status, data)


def require_object(reply: JsonReply, what: str) -> dict[str, Any]:
    """A 200 answer whose body is a JSON object, or `bad_response`."""
    if reply.status != 200 or not isinstance(reply.data, dict):
        raise UpstreamError("bad_response", f"{what}: HTTP {reply.status}")
    return reply.data


DEFAULT_HTTP = UpstreamHttp()
