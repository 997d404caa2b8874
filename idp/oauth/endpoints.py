"""Introspection (RFC 7662) and revocation (RFC 7009) of our JWT access tokens."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.context import current_tenant, issuer, services
from idp.oauth.clients import OAuthClient
from idp.oauth.grants import TOKEN_AUTH_METHODS
from idp.services.clients import find_client
from idp.services.tokens import read_access_token, revoke_access_token


class LiveAccessToken:
    """A verified, unexpired, unrevoked access token, in the shape Authlib's endpoints expect."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims

    def check_client(self, client: OAuthClient) -> bool:
        return self.claims.get("client_id") == client.client_id

    def may_be_managed_by(self, client: OAuthClient) -> bool:
        """Its own client, or any client of the tenant registered as a resource server."""
        return client.view.is_resource_server or self.check_client(client)

    def is_expired(self) -> bool:
        return False  # read_access_token returns live tokens only

    def is_revoked(self) -> bool:
        return False


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


def find_live_token(token: str) -> LiveAccessToken | None:
    tenant = current_tenant()
    container = services()
    claims = read_access_token(
        container.key_cache.ring(tenant.id), container.store, issuer(), tenant, token
    )
    return LiveAccessToken(claims) if claims else None


class Introspection(HintIgnored, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> LiveAccessToken | None:
        # The hint is only an optimisation (RFC 7662 §2.1); JWT access tokens are all we issue.
        return find_live_token(token_string)

    def check_permission(self, token: LiveAccessToken, client: OAuthClient, request: Any) -> bool:
        # Anyone else gets `active: false`, revealing nothing (RFC 7662 §2.2).
        if not token.may_be_managed_by(client):
            return False
        # A deleted client's tokens die with it; the caller's own client plainly still exists.
        owner = str(token.claims.get("client_id", ""))
        return token.check_client(client) or client_exists(owner)

    def introspect_token(self, token: LiveAccessToken) -> dict[str, Any]:
        claims = token.claims
        payload = {"active": True, "token_type": "Bearer"}
        for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti"):
            if name in claims:
                payload[name] = claims[name]
        return payload


class Revocation(HintIgnored, RevocationEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def authenticate_token(self, request: Any, client: OAuthClient) -> LiveAccessToken | None:
        # RFC 7009 §2.1: a token issued to another client is refused; a resource server, like at
        # introspection, may revoke any token of its tenant.
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token and not token.may_be_managed_by(client):
            raise InvalidGrantError("The token was issued to another client.")
        return token

    def query_token(self, token_string: str, token_type_hint: str | None) -> LiveAccessToken | None:
        # RFC 7009 §2.2: an invalid, expired or unknown token is answered 200 all the same.
        return find_live_token(token_string)

    def revoke_token(self, token: LiveAccessToken, request: Any) -> None:
        revoke_access_token(services().store, current_tenant(), token.claims)
