"""Ordinary client credentials and introspection requests, answered before Flask.

Machine clients and resource servers send these all day. Through Flask and Authlib each costs
about a millisecond of CPU, most of it request machinery rather than work: gunicorn alone costs
~150 µs a request here and a bare Flask route ~250 µs (bench/RESULTS.md). So a request that is
ordinary in every respect is answered here, by the same domain functions and with the same
headers as the Flask route (idp/http/oauth/routes.py):

- a POST to `{issuer}/token` with `grant_type=client_credentials`, or to `{issuer}/introspect`
  about a live access token the caller was issued;
- a form body with a Content-Length within the limit, in valid form encoding, each parameter
  once and none but those this path knows (no `resource`: RFC 8707 goes through Flask);
- one client secret, by Basic or in the body, of a client registered for that method, correct,
  from an address the failure limiter has not blocked; no `Origin` (CORS is Flask's);
- a token request within its address's rate (idp/http/oauth/token_limit.py).

Everything else falls through to Flask with the body intact: this path only ever answers 200,
and only with what the Flask path would have answered. So every error, its audit event, the
failure count and the rate limit keep the one implementation they have there.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from authlib.consts import default_json_headers
from authlib.oauth2 import OAuth2Error

from idp.http.oauth.documents import WsgiApp, log_fall_through
from idp.http.oauth.guards import FORM, form_encoding_problem
from idp.http.security import EdgeHeaders
from idp.oauth.client_auth import (
    basic_credentials,
    is_vschar_string,
    names_another_client,
    presented_credentials,
)
from idp.oauth.clients import OAuthClient
from idp.oauth.endpoints import LiveAccessToken
from idp.oauth.grants import client_credentials_body, requested_audience, requested_scopes
from idp.oauth.server import MAX_CLIENT_ID, OVER_TOKEN_LIMIT
from idp.services.container import Services
from idp.services.oauth_clients.clients import ClientView
from idp.services.rate_limits import FailureLimiter
from idp.services.tenancy.tenants import TenantView, issuer_url
from idp.services.tokens.access_tokens import read_access_token
from idp.services.tokens.refresh_tokens import looks_like_refresh_token

ENDPOINT = re.compile(r"^/t/([^/]+)/(token|introspect)$")
CLIENT_FIELDS = frozenset({"client_id", "client_secret"})
FIELDS = {
    "token": CLIENT_FIELDS | {"grant_type", "scope"},
    "introspect": CLIENT_FIELDS | {"token", "token_type_hint"},
}
# What Authlib sends with a token response and an introspection answer (RFC 6749 §5.1), and
# the token endpoint's `Vary` (it has CORS, idp/http/oauth/cors.py; introspection has none).
HEADERS = {
    "token": [*default_json_headers, ("Vary", "Origin")],
    "introspect": default_json_headers,
}


class FastPath:
    """WSGI middleware in front of the Flask app for ordinary token and introspection POSTs."""

    def __init__(
        self, app: WsgiApp, services: Services, failures: FailureLimiter, https: bool
    ) -> None:
        self._app = app
        self._services = services
        self._failures = failures
        settings = services.settings
        self._public_url = settings.server.public_url
        self._max_body = settings.server.max_body_bytes
        self._edge_headers = EdgeHeaders(settings.server.request_id_header, https)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or "HTTP_ORIGIN" in environ
            or environ.get("QUERY_STRING")
            or OVER_TOKEN_LIMIT in environ
        ):
            return self._app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        match = ENDPOINT.match(path)
        body = self._body(environ) if match else None
        if match is None or body is None:
            return self._app(environ, start_response)
        slug, endpoint = match.groups()
        try:
            answer = self._answer(slug, endpoint, environ, body)
        except Exception as error:  # Flask answers instead, with our error handling (503 for
            log_fall_through(path, error)  # a store or a database that cannot be reached)
            answer = None
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self._app(environ, start_response)
        payload = json.dumps(answer).encode()
        start_response(
            "200 OK",
            [
                *HEADERS[endpoint],
                ("Content-Length", str(len(payload))),
                *self._edge_headers.of(environ),
            ],
        )
        return [payload]

    def _body(self, environ: dict[str, Any]) -> bytes | None:
        """The form body, read whole; None (unread) when it is not a plain form of known size."""
        media_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        if media_type != FORM or not length.isdigit() or not 0 < int(length) <= self._max_body:
            return None
        return environ["wsgi.input"].read(int(length))  # type: ignore[no-any-return]

    def _answer(
        self, slug: str, endpoint: str, environ: dict[str, Any], body: bytes
    ) -> dict[str, Any] | None:
        form = parse_form(body, FIELDS[endpoint])
        tenant = self._services.tenant_cache.get(slug) if form is not None else None
        if form is None or tenant is None:
            return None
        if self._failures.retry_after(f"{tenant.id}:{environ.get('REMOTE_ADDR') or 'unknown'}"):
            return None
        credentials = secret_credentials(environ.get("HTTP_AUTHORIZATION"), form)
        if credentials is None or not is_vschar_string(credentials.client_id, MAX_CLIENT_ID):
            return None
        issuer = issuer_url(self._public_url, tenant.slug)
        if endpoint == "token":
            return self._token(tenant, issuer, credentials, form)
        return self._introspection(tenant, issuer, credentials, form)

    def _token(
        self, tenant: TenantView, issuer: str, credentials: Credentials, form: dict[str, str]
    ) -> dict[str, Any] | None:
        if form.get("grant_type") != "client_credentials":
            return None
        view = self._services.clients.get(tenant.id, credentials.client_id)
        client = authenticated(view, credentials)
        if client is None or not client.check_grant_type("client_credentials"):
            return None
        try:
            scopes = requested_scopes(client, form.get("scope"))
            audience = requested_audience(client, [], issuer)
        except OAuth2Error:
            return None
        body = client_credentials_body(self._services, tenant, issuer, client, scopes, audience)
        self._services.usage.record_token_issued(tenant.id, client.client_id)
        return body

    def _introspection(
        self, tenant: TenantView, issuer: str, credentials: Credentials, form: dict[str, str]
    ) -> dict[str, Any] | None:
        """A live access token of the caller's own; anything else (inactive, a refresh token,
        another client's token for a resource server) is Flask's to answer."""
        token = form.get("token")
        if not token or looks_like_refresh_token(token):
            return None
        container = self._services
        view = container.clients.get(tenant.id, credentials.client_id)
        if authenticated(view, credentials) is None:
            return None
        ring = container.key_cache.ring(tenant.id)
        claims = read_access_token(ring, container.revocations, issuer, tenant, token)
        if claims is None or claims.get("client_id") != credentials.client_id:
            return None
        return LiveAccessToken(claims).introspection()


class Credentials(NamedTuple):
    method: str
    client_id: str
    secret: str


def parse_form(body: bytes, known: frozenset[str]) -> dict[str, str] | None:
    """The parameters of a form body when each is known, non-empty and sent once; else None."""
    if form_encoding_problem(body):
        return None
    form: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict"):
        if name not in known or not value or name in form:
            return None
        form[name] = value
    return form


def authenticated(view: ClientView | None, credentials: Credentials) -> OAuthClient | None:
    """The client, when the secret authenticates it as Authlib's chain would: by the one method
    it registered."""
    if view is None or view.token_endpoint_auth_method != credentials.method:
        return None
    if not view.accepts_secret(credentials.secret, datetime.now(UTC)):
        return None
    return OAuthClient(view)


def secret_credentials(authorization: str | None, form: dict[str, str]) -> Credentials | None:
    """The client secret of a request carrying exactly one client credential (RFC 6749 §2.3.1),
    by Basic or in the body; None for anything else, malformed or not."""
    if presented_credentials(authorization, form) != 1:
        return None
    if authorization is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id is None or secret is None:
            return None
        return Credentials("client_secret_post", client_id, secret)
    try:
        credentials = basic_credentials(authorization)
    except ValueError:
        return None
    if credentials is None or names_another_client(form, credentials[0]):
        return None
    return Credentials("client_secret_basic", *credentials)
