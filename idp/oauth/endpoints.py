"""Introspection (RFC 7662) and revocation (RFC 7009) of our access and refresh tokens.

Access tokens are JWTs; refresh tokens are opaque and carry a prefix, which is how a presented
token is told apart (the `token_type_hint` is only an optimisation, RFC 7009 §2.1).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.context import current_tenant, issuer, services
from idp.oauth.clients import OAuthClient
from idp.oauth.grants import TOKEN_AUTH_METHODS
from idp.services.oauth_clients.clients import find_client
from idp.services.tokens.access_tokens import read_access_token, revoke_access_token
from idp.services.tokens.refresh_tokens import (
    RefreshTokenView,
    find_refresh_token,
    looks_like_refresh_token,
    revoke_family,
)


class LiveAccessToken:
    """A verified, unexpired, unrevoked access token, in the shape Authlib's endpoints expect."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.client_id = str(claims.get("client_id", ""))

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def may_be_introspected_by(self, client: OAuthClient) -> bool:
        """Its own client, or any client of the tenant registered as a resource server."""
        return client.view.is_resource_server or self.check_client(client)

    def may_be_revoked_by(self, client: OAuthClient) -> bool:
        # A resource server, like at introspection, may revoke any access token of its tenant.
        return self.may_be_introspected_by(client)

    def is_expired(self) -> bool:
        return False  # read_access_token returns live tokens only

    def is_revoked(self) -> bool:
        return False

    def introspection(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"active": True, "token_type": "Bearer"}
        for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti"):
            if name in self.claims:
                payload[name] = self.claims[name]
        return payload

    def revoke(self) -> None:
        revoke_access_token(services().revocations, current_tenant(), self.claims)


class LiveRefreshToken:
    """An unrevoked refresh token of this tenant; `view.active` says whether it still works."""

    def __init__(self, view: RefreshTokenView) -> None:
        self.view = view
        self.client_id = view.client_id

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def may_be_introspected_by(self, client: OAuthClient) -> bool:
        return client.view.is_resource_server or self.check_client(client)

    def may_be_revoked_by(self, client: OAuthClient) -> bool:
        # RFC 7009 §2.1: only the client it was issued to; a refresh token is a grant, not
        # something a resource server sees.
        return self.check_client(client)

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return not self.view.active  # spent, expired, or its person may no longer sign in

    def introspection(self) -> dict[str, Any]:
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": " ".join(self.view.scopes),
            "client_id": self.view.client_id,
            "sub": self.view.subject,
            "iss": issuer(),
            "iat": int(self.view.issued_at.timestamp()),
            "exp": int(self.view.expires_at.timestamp()),
        }

    def revoke(self) -> None:
        """RFC 7009 §2.1: revoking a refresh token ends its grant: the family and the access
        tokens issued from it."""
        container = services()
        revoke_family(container.uow(), container.revocations, current_tenant(), self.view.family_id)


LiveToken = LiveAccessToken | LiveRefreshToken


class HintIgnored:
    """Only `token` is required; an unknown `token_type_hint` is ignored, not an error.

    RFC 7009 §2.1 says so for revocation, and RFC 7662 §2.1 takes its hints from the same
    registry. Authlib would answer `unsupported_token_type` to any hint it does not know.
    """

    def check_params(self, request: Any, client: OAuthClient) -> None:
        if "token" not in request.form:
            raise InvalidRequestError("Missing 'token' parameter.")


def client_exists(client_id: str) -> bool:
    return find_client(services().uow(), current_tenant().id, client_id) is not None


def find_live_token(token: str) -> LiveToken | None:
    """The token by its form, not by the hint: refresh tokens carry their prefix."""
    tenant = current_tenant()
    container = services()
    if looks_like_refresh_token(token):
        view = find_refresh_token(container.uow(), tenant, token)
        return LiveRefreshToken(view) if view else None
    claims = read_access_token(
        container.key_cache.ring(tenant.id), container.revocations, issuer(), tenant, token
    )
    return LiveAccessToken(claims) if claims else None


class Introspection(HintIgnored, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> LiveToken | None:
        return find_live_token(token_string)

    def check_permission(self, token: LiveToken, client: OAuthClient, request: Any) -> bool:
        # Anyone else gets `active: false`, revealing nothing (RFC 7662 §2.2).
        if not token.may_be_introspected_by(client):
            return False
        # A deleted client's tokens die with it; the caller's own client plainly still exists.
        return token.check_client(client) or client_exists(token.client_id)

    def introspect_token(self, token: LiveToken) -> dict[str, Any]:
        return token.introspection()


class Revocation(HintIgnored, RevocationEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def authenticate_token(self, request: Any, client: OAuthClient) -> LiveToken | None:
        # RFC 7009 §2.1: a token issued to another client is refused.
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token and not token.may_be_revoked_by(client):
            raise InvalidGrantError("The token was issued to another client.")
        return token

    def query_token(self, token_string: str, token_type_hint: str | None) -> LiveToken | None:
        # RFC 7009 §2.2: an invalid, expired or unknown token is answered 200 all the same.
        return find_live_token(token_string)

    def revoke_token(self, token: LiveToken, request: Any) -> None:
        token.revoke()
