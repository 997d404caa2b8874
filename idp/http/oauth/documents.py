"""The public documents (JWKS, discovery) served before Flask sees the request.

They are the most requested URLs of an issuer (every client library and resource server fetches
them, and re-fetches on each unknown `kid`) and each is a few cached bytes per tenant. Through
Flask, routing, request context and hooks cost more than the rest of the request together;
gunicorn alone serves ~6,600 req/s per core here, a bare Flask route ~3,900 (bench/RESULTS.md).
So a plain GET of one of them is answered here, from the same caches and with the same headers
as the Flask routes (idp/http/oauth/routes.py). Anything else falls through to Flask: another
method, a request with `Origin` (CORS decides its headers), an unknown tenant (the 404 in our
error format), or any failure (a database that is down: the 503 in our error format). While the
database is down, the tenant and key caches serve their last good copies, so these documents
keep being answered here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from idp.http.oauth.metadata import metadata_json
from idp.http.security import EdgeHeaders
from idp.http.unavailable import cause_of, is_unavailable
from idp.services.container import Services
from idp.services.tenancy.tenants import TenantView, issuer_url

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
JWKS = re.compile(r"^/t/([^/]+)/jwks\.json$")
METADATA = re.compile(
    r"^(?:/t/([^/]+)/\.well-known/(?:openid-configuration|oauth-authorization-server)"
    r"|/\.well-known/oauth-authorization-server/t/([^/]+))$"
)

log = logging.getLogger(__name__)


def log_fall_through(path: str, error: Exception) -> None:
    """An unreachable dependency is one line (Flask then answers 503); anything else a bug."""
    if is_unavailable(error):
        log.warning("fast path for %s: %s; Flask answers instead", path, cause_of(error))
    else:
        log.exception("fast path for %s failed; Flask answers instead", path)


class PublicDocuments:
    """WSGI middleware in front of the Flask app for GET of the JWKS and metadata documents."""

    def __init__(self, app: WsgiApp, services: Services, https: bool) -> None:
        self._app = app
        self._services = services
        settings = services.settings
        self._public_url = settings.server.public_url
        self._max_age = f"public, max-age={settings.keys.jwks_max_age_seconds}"
        self._edge_headers = EdgeHeaders(settings.server.request_id_header, https)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_ORIGIN" in environ:
            return self._app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        try:
            answer = self._document(path)
        except Exception as error:  # Flask's route answers instead, with our error handling
            log_fall_through(path, error)
            answer = None
        if answer is None:
            return self._app(environ, start_response)
        body, vary = answer
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", self._max_age),
            *([("Vary", "Origin")] if vary else []),
            *self._edge_headers.of(environ),
        ]
        start_response("200 OK", headers)
        return [body]

    def _document(self, path: str) -> tuple[bytes, bool] | None:
        """The body, and whether it varies by `Origin` (JWKS has CORS); None: not ours."""
        if path.endswith("/jwks.json"):
            match = JWKS.match(path)
            tenant = self._tenant(match.group(1)) if match else None
            if tenant is None:
                return None
            ring = self._services.key_cache.ring(tenant.id)
            return ring.jwks_json(datetime.now(UTC)).encode(), True
        if "/.well-known/" not in path:
            return None
        match = METADATA.match(path)
        tenant = self._tenant(match.group(1) or match.group(2)) if match else None
        if tenant is None:
            return None
        issuer = issuer_url(self._public_url, tenant.slug)
        return metadata_json(
            issuer, tenant.dynamic_registration, tenant.profile_attributes
        ).encode(), False

    def _tenant(self, slug: str) -> TenantView | None:
        return self._services.tenant_cache.get(slug)
