"""CORS on the token, userinfo, JWKS and revocation endpoints, for registered origins only.

A browser lets a page read our answer to its cross-origin request only if the answer names the
page's origin in `Access-Control-Allow-Origin` (the Fetch standard's CORS protocol). We name an
origin only when a client of this tenant registered it (`allowed_cors_origins`):

- token and revocation: the client the request names (Basic header, else `client_id`), so an
  origin one client registered does not open the token endpoint to requests of another client;
- userinfo: the client the access token was issued to;
- JWKS (public keys) and preflights (which carry no credentials, so name no client): any client
  of the tenant, from a per-process copy refreshed every `cache.tenant_seconds`.

Never `*` and never `Access-Control-Allow-Credentials`: these endpoints read no cookies, and the
credentials they take (an Authorization header, the body) need no such permission. Every other
endpoint (authorization, introspection, pages, management API) sends no CORS headers at all, so
browsers keep other sites from reading it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import RequestEntityTooLarge

from idp.context import current_tenant, services
from idp.crypto.jwt import InvalidToken, verify
from idp.http.unavailable import is_unavailable
from idp.oauth.client_auth import basic_credentials
from idp.oauth.server import oauth_server
from idp.oauth.userinfo import MAX_TOKEN, presented_token
from idp.services.oauth_clients.clients import ClientView, cors_origins

# Endpoint -> the methods a preflight may be answered with (Access-Control-Allow-Methods).
METHODS = {
    "oauth.token": "POST",
    "oauth.authorization_challenge": "POST",
    "oauth.revoke": "POST",
    "oauth.userinfo": "GET, POST",
    "oauth.jwks": "GET",
}
ALLOW_HEADERS = "Authorization, Content-Type"
# RFC 6750 §3 errors and rate limits are told in these headers; scripts may read them.
EXPOSE_HEADERS = "WWW-Authenticate, Retry-After"
# How long a browser may reuse a preflight answer: short, so a removed origin is soon refused.
MAX_AGE = "600"
CACHE = "idp.cors_origins"


class TenantOrigins:
    """Every tenant's registered origins, trusted for `ttl` seconds, like the tenant cache.

    Only for JWKS and preflights; the other endpoints read the origins of the one client
    concerned, which they load anyway.
    """

    def __init__(self, load: Callable[[int], frozenset[str]], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._entries: dict[int, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: int) -> frozenset[str]:
        now = time.monotonic()
        entry = self._entries.get(tenant_id)
        if entry and now - entry[0] < self._ttl:
            return entry[1]
        origins = self._load(tenant_id)
        with self._lock:
            self._entries[tenant_id] = (now, origins)
        return origins


def install(bp: Blueprint) -> None:
    """Answer preflights and add `Access-Control-Allow-Origin` on the protocol blueprint."""
    bp.record_once(_create_cache)
    bp.before_request(answer_preflight)
    bp.after_request(allow_origin)


def _create_cache(state: BlueprintSetupState) -> None:
    container = state.app.extensions["idp.services"]
    state.app.extensions[CACHE] = TenantOrigins(
        lambda tenant_id: cors_origins(container.uow(), tenant_id),
        container.settings.cache.tenant_seconds,
    )


def answer_preflight() -> Response | None:
    """A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) gets 204, with
    the CORS permissions only when some client of the tenant registered the origin."""
    methods = METHODS.get(request.endpoint or "")
    origin = request.headers.get("Origin")
    preflight = "Access-Control-Request-Method" in request.headers
    if request.method != "OPTIONS" or methods is None or not origin or not preflight:
        return None  # not a preflight: Flask's own OPTIONS answer, or the endpoint itself
    response = Response(status=204)
    response.vary.add("Origin")
    if origin in _tenant_origins():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = MAX_AGE
    return response


def allow_origin(response: Response) -> Response:
    """Name the request's origin when the client concerned registered it.

    `Vary: Origin` goes on every answer of these endpoints, with an `Origin` or without: the
    JWKS may be kept by shared caches, which must not hand an answer made for one origin (or
    for none) to another (Fetch standard, "CORS protocol and HTTP caches").
    """
    endpoint = request.endpoint or ""
    if endpoint not in METHODS or request.method == "OPTIONS":
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if not origin or g.get("tenant") is None:
        return response
    try:
        allowed = origin in _origins_for(endpoint)
    except RequestEntityTooLarge:  # refused for its size (413): its body names no client
        allowed = False
    except Exception as error:
        if not is_unavailable(error):
            raise
        # The store or the database went away: the answer (a 503, most likely) stays what it
        # is, unreadable to the page's script, rather than becoming a 500 here.
        allowed = False
    if allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def _origins_for(endpoint: str) -> frozenset[str] | tuple[str, ...]:
    if endpoint == "oauth.jwks":
        return _tenant_origins()
    client = _token_client() if endpoint == "oauth.userinfo" else _named_client()
    return client.allowed_cors_origins if client else ()


def _tenant_origins() -> frozenset[str]:
    cache: TenantOrigins = current_app.extensions[CACHE]
    return cache.get(current_tenant().id)


def _named_client() -> ClientView | None:
    """The client a token or revocation request names: in Basic credentials, else `client_id`.

    Through the server's per-request client cache, so client authentication and this share one
    lookup. Naming is enough: the answer to a request that fails to authenticate is an error.
    """
    client_id = _basic_client_id() or request.form.get("client_id")
    client = oauth_server().query_client(client_id) if client_id else None
    return client.view if client else None


def _basic_client_id() -> str | None:
    try:
        credentials = basic_credentials(request.headers.get("Authorization", ""))
    except ValueError:
        return None
    return credentials[0] if credentials else None


def _token_client() -> ClientView | None:
    """The client an access token we signed was issued to.

    Only the signature is checked, not expiry or revocation: this only picks whose origins
    apply. Userinfo answers with claims only for a live token, and an app must be able to read
    the 401 of an expired one to know it should refresh.
    """
    try:
        token = presented_token()
    except ValueError:
        return None
    if token is None or len(token) > MAX_TOKEN:
        return None
    container = services()
    tenant = current_tenant()
    try:
        _, claims = verify(token, container.key_cache.ring(tenant.id), datetime.now(UTC))
    except InvalidToken:
        return None
    client_id = claims.get("client_id")
    if not isinstance(client_id, str):
        return None
    return container.clients.get(tenant.id, client_id)
