"""Token endpoint requests per tenant and client IP and minute (config.toml [rate_limits]
`token_per_minute`), counted once per request in front of the fast path and Flask.

This middleware only counts and marks the request; the token endpoint answers a marked one
(`TenantAuthorizationServer.create_token_response`): 429 with `Retry-After` in RFC 6749 form,
or 503 when the store that holds the count cannot be reached. So the answer has one
implementation, with the token endpoint's headers (CORS, security, request id), and the fast
path leaves marked requests to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from idp.http.oauth.documents import WsgiApp
from idp.oauth.server import OVER_TOKEN_LIMIT
from idp.services.rate_limits import BatchedLimiter
from idp.stores import StoreUnavailable

TOKEN_PATH = re.compile(r"^/t/([^/]+)/token$")


class TokenRateLimit:
    """WSGI middleware counting every POST to a tenant's token endpoint by its client IP."""

    def __init__(self, app: WsgiApp, limiter: BatchedLimiter) -> None:
        self._app = app
        self._limiter = limiter

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            match = TOKEN_PATH.match(environ.get("PATH_INFO", ""))
            if match is not None:
                self._count(environ, f"{match.group(1)}:{environ.get('REMOTE_ADDR') or 'unknown'}")
        return self._app(environ, start_response)

    def _count(self, environ: dict[str, Any], source: str) -> None:
        try:
            retry_after = self._limiter.hit(source)
        except StoreUnavailable as error:
            environ[OVER_TOKEN_LIMIT] = error
            return
        if retry_after is not None:
            environ[OVER_TOKEN_LIMIT] = retry_after
