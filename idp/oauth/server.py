"""The Authlib authorization server, configured once: grants, endpoints, client authentication.

Authlib stops here. It runs inside a request whose tenant the HTTP layer has resolved; every
client lookup is scoped to that tenant, so a client of tenant A does not exist at tenant B.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, JsonRequest
from flask import Flask, Response, current_app, g
from flask import request as http_request

from idp.context import client_ip, current_tenant, services
from idp.oauth.accounting import audit_client_auth_failure, count_failure, count_token_issued
from idp.oauth.challenge import AuthorizationChallenge
from idp.oauth.client_auth import (
    PrivateKeyJwt,
    authenticate_client_secret_basic,
    check_client_id_parameter,
    is_vschar_string,
    presented_credentials,
)
from idp.oauth.clients import OAuthClient
from idp.oauth.endpoints import Introspection, Revocation
from idp.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from idp.oauth.registration import ClientConfiguration, ClientRegistration
from idp.oauth.token_exchange import TokenExchangeGrant
from idp.oauth.waits import RetryLater
from idp.services.rate_limits import FailureLimiter
from idp.stores import StoreUnavailable

MAX_CLIENT_ID = 64
# Set in the WSGI environ by the token endpoint's rate limit (idp/http/oauth/token_limit.py):
# the seconds to wait, or the StoreUnavailable that kept the request from being counted.
OVER_TOKEN_LIMIT = "idp.token_rate_limit"


class TooManyFailures(RetryLater):
    """Past the failed-authentication limit for this address: 429 with Retry-After."""

    error = "invalid_client"
    waiting = "Too many failed client authentications; retry later."


class TooManyTokenRequests(RetryLater):
    """Past `rate_limits.token_per_minute` from this address at this tenant: 429 with
    Retry-After, as `invalid_request` (RFC 6749 §5.2 has no code of its own for it)."""

    error = "invalid_request"
    waiting = "Too many token requests from this address; retry later."


class TenantAuthorizationServer(AuthorizationServer):
    def __init__(self, app: Flask, failures: FailureLimiter) -> None:
        super().__init__(app)
        self._failures = failures
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(TokenExchangeGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.register_endpoint(AuthorizationChallenge)
        self.register_endpoint(ClientRegistration)
        self.register_endpoint(ClientConfiguration)
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
        self.register_client_auth_method("private_key_jwt", PrivateKeyJwt())

    @property
    def failures(self) -> FailureLimiter:
        """Failed credentials per tenant and address: client authentication, registration."""
        return self._failures

    def query_client(self, client_id: str) -> OAuthClient | None:
        if not is_vschar_string(client_id, MAX_CLIENT_ID):
            return None
        # Several auth methods may ask for the same client in one request: one query each.
        cache: dict[str, OAuthClient | None] = g.setdefault("oauth_clients", {})
        if client_id not in cache:
            view = services().clients.get(current_tenant().id, client_id)
            cache[client_id] = OAuthClient(view) if view else None
        return cache[client_id]

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """JWT access tokens are self-contained: nothing to store."""

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        source = f"{current_tenant().id}:{client_ip()}"
        retry_after = self._failures.retry_after(source)
        if retry_after:
            raise TooManyFailures(retry_after)
        if presented_credentials(request.headers.get("Authorization"), request.form) > 1:
            # RFC 6749 §2.3: a client MUST NOT use more than one authentication method at once.
            raise InvalidRequestError("Use exactly one client authentication method.")
        try:
            client = super().authenticate_client(request, methods, endpoint)
            check_client_id_parameter(request, client)
            return client
        except InvalidClientError as error:
            # RFC 6749 §5.2 allows 401 for every failed client authentication; we always use it.
            error.status_code = 401
            if error.description.startswith("The client cannot authenticate"):
                error.description = "Client authentication failed."
            retry_after = self._failures.record_failure(source)
            audit_client_auth_failure(endpoint, error, retry_after)
            if retry_after:
                raise TooManyFailures(retry_after) from error
            raise

    def create_oauth2_request(self, request: Any) -> Any:
        # Once per HTTP request: create_token_response below and Authlib's both ask for it, and
        # building one parses the URL and headers again.
        if "oauth2_request" not in g:
            g.oauth2_request = super().create_oauth2_request(request)
        return g.oauth2_request

    def create_token_response(self, request: Any = None) -> Response:
        oauth_request = self.create_oauth2_request(request)
        over_limit = http_request.environ.get(OVER_TOKEN_LIMIT)
        if isinstance(over_limit, StoreUnavailable):
            raise over_limit  # 503 with Retry-After (idp/http/errors.py)
        if over_limit is not None:
            return self.handle_error_response(oauth_request, TooManyTokenRequests(over_limit))
        if not oauth_request.payload.grant_type:
            return self.handle_error_response(
                oauth_request, InvalidRequestError("Missing 'grant_type' parameter.")
            )
        response = super().create_token_response(request)
        if response.status_code == 200:
            count_token_issued(oauth_request)  # every grant, counted in memory (services.usage)
        return response

    def handle_error_response(self, request: Any, error: Any) -> Response:
        if not isinstance(request, JsonRequest):  # registration's errors are audited instead
            count_failure(request)  # token, introspection and revocation errors alike
        return super().handle_error_response(request, error)


def oauth_server() -> TenantAuthorizationServer:
    return current_app.extensions["idp.oauth"]  # type: ignore[no-any-return]
