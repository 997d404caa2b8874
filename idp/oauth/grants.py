"""Token endpoint grants. Only what is implemented is registered and advertised."""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    grants,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import g

from idp.context import client_ip, current_tenant, issuer, services
from idp.oauth.clients import OAuthClient
from idp.services.accounts.users import UserView, read_user
from idp.services.container import Services
from idp.services.errors import InvalidInput, NotFound
from idp.services.oauth_clients.clients import SCOPE_TOKEN, check_resource
from idp.services.signin.authorization import AuthorizationCode, Codes
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.access_tokens import (
    IssuedAccessToken,
    issue_access_token,
    revoke_access_token,
)
from idp.services.tokens.id_tokens import issue_id_token
from idp.services.tokens.refresh_tokens import (
    FamilyGrant,
    IssuedRefreshToken,
    Origin,
    RefreshRefused,
    ScopeNotGranted,
    TokenResponse,
    revoke_family,
    rotate,
    should_issue_refresh_token,
    start_family,
)

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
MAX_CODE = 128
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters.
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown, or not allowed for this client."""

    error = "invalid_target"


def scope_tokens(scope: str) -> list[str]:
    """RFC 6749 §3.3: scope = scope-token *( SP scope-token ), without repeats.

    Checked before any token is echoed back, since an error_description may only hold
    %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2).
    """
    asked = list(dict.fromkeys(token for token in scope.split(" ") if token))
    if not all(SCOPE_TOKEN.match(token) for token in asked):
        raise InvalidScopeError("The scope parameter is malformed.")
    return asked


def requested_scopes(client: OAuthClient, scope: str | None) -> list[str]:
    """RFC 6749 §3.3: a subset of the client's scopes; none asked means all it has."""
    registered = list(client.view.scopes)
    if not scope:
        return registered
    asked = scope_tokens(scope)
    unknown = [s for s in asked if s not in registered]
    if unknown:
        raise InvalidScopeError(f"The client may not request: {' '.join(unknown)}")
    return asked


def requested_audience(client: OAuthClient, resources: list[str], issuer: str) -> list[str]:
    """RFC 8707: each `resource` must be registered for the client; else its default audience.

    The resource is not echoed in the description: it may hold characters that RFC 6749 §5.2
    forbids there, and it is the client's own input anyway.
    """
    for resource in resources:
        try:
            check_resource(resource)
        except InvalidInput as error:
            raise InvalidTargetError(
                "A resource must be an absolute URI without a fragment."
            ) from error
        if resource not in client.view.resources:
            raise InvalidTargetError("A requested resource is not allowed for this client.")
    if resources:
        return list(dict.fromkeys(resources))
    # Without a registered resource, the token is for this issuer's own APIs (userinfo, management).
    return [client.view.resources[0]] if client.view.resources else [issuer]


def bearer_body(issued: IssuedAccessToken) -> dict[str, Any]:
    """RFC 6749 §5.1: the access token part of a token response; `scope` when there is one."""
    body: dict[str, Any] = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    }
    if issued.scope:
        body["scope"] = issued.scope
    return body


def client_credentials_body(
    container: Services,
    tenant: TenantView,
    issuer: str,
    client: OAuthClient,
    scopes: list[str],
    audience: list[str],
) -> dict[str, Any]:
    """RFC 6749 §4.4.3: the token response to an authenticated client, for itself.

    Shared by Authlib's grant below and the fast path (idp/http/oauth/fast_path.py), which both
    check the request with `requested_scopes` and `requested_audience` first.
    """
    issued = issue_access_token(
        ring=container.key_cache.ring(tenant.id),
        issuer=issuer,
        tenant=tenant,
        client=client.view,
        subject=client.view.client_id,
        scopes=scopes,
        audience=audience,
        defaults=container.settings.tokens,
    )
    return bearer_body(issued)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        self.request.scopes = requested_scopes(self.client, self.request.payload.scope)
        resources = self.request.payload.datalist.get("resource", [])
        self.request.audience = requested_audience(self.client, resources, issuer())

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        body = client_credentials_body(
            services(),
            current_tenant(),
            issuer(),
            self.client,
            self.request.scopes,
            self.request.audience,
        )
        return 200, body, self.TOKEN_RESPONSE_HEADER


class S256CodeChallenge(CodeChallenge):
    """RFC 7636 at the token endpoint, S256 only. The authorization endpoint (oauth/authorize.py)
    has already refused `plain` and missing challenges; here the verifier must match, and a
    verifier for a code issued without a challenge is refused (RFC 9700 §4.8.2: downgrade)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str | None:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AuthorizationCode) -> str:
        return "S256"


class BoundCode:
    """A redeemed code in the shape Authlib's grant asks about."""

    def __init__(self, bound: AuthorizationCode) -> None:
        self.bound = bound
        self.code_challenge = bound.code_challenge

    def get_redirect_uri(self) -> str:
        return self.bound.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.bound.scopes)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """RFC 6749 §4.1.3 with OIDC Core §3.1.3: access token plus, for `openid`, an ID token."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*TOKEN_AUTH_METHODS, "none"]

    def query_authorization_code(self, code: str, client: OAuthClient) -> BoundCode | None:
        if not isinstance(code, str) or not 0 < len(code) <= MAX_CODE:
            return None
        codes = Codes(services().store)
        tenant = current_tenant()
        bound = codes.redeem(tenant.id, code)
        if bound is None:
            # RFC 6749 §4.1.2: a replayed code SHOULD revoke the tokens issued from it.
            issued = codes.replayed(tenant.id, code)
            if issued:
                revoke_access_token(services().revocations, tenant, issued)
                if issued.get("family"):
                    revoke_family(
                        services().uow(), services().revocations, tenant, issued["family"]
                    )
            return None
        # Spent either way: a code presented by another client is burnt (RFC 9700 §4.5).
        if bound.client_id != client.client_id:
            return None
        self.request.raw_code = code
        return BoundCode(bound)

    def delete_authorization_code(self, authorization_code: BoundCode) -> None:
        """Already spent by `take` in query_authorization_code."""

    def authenticate_user(self, authorization_code: BoundCode) -> UserView | None:
        lookup = services().person_lookup
        try:
            user = read_user(lookup, current_tenant(), authorization_code.bound.subject)
        except NotFound:
            return None
        return user if user.active else None

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        tenant = current_tenant()
        container = services()
        client: OAuthClient = self.request.client
        bound: AuthorizationCode = self.request.authorization_code.bound
        user = self.authenticate_user(self.request.authorization_code)
        if user is None:
            raise InvalidGrantError("The person this code was issued for cannot sign in.")
        grant = FamilyGrant(
            client_id=client.client_id,
            subject=user.subject,
            scopes=bound.scopes,
            sid=bound.sid,
            auth_time=bound.auth_time,
            amr=bound.amr,
            claims=bound.claims,
        )
        issued, refresh = sign_in_tokens(client, user, grant, bound.nonce)
        family, family_expires_at = None, 0.0
        if refresh is not None:
            family, family_expires_at = refresh.family_id, refresh.family_expires_at.timestamp()
        access = issued.access_token
        Codes(container.store).remember_tokens(
            tenant.id,
            self.request.raw_code,
            {"jti": access.jti, "exp": access.exp},
            family,
            family_expires_at,
        )
        return 200, issued.body, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2, services.refresh_tokens)
    and, for `openid`, a new ID token (OIDC Core §12.2)."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*TOKEN_AUTH_METHODS, "none"]

    def validate_token_request(self) -> None:
        # Authenticates the client and checks it is registered for this grant.
        self.request.client = self._validate_request_client()
        presented = self.request.payload.data.get("refresh_token")
        if not presented:
            raise InvalidRequestError("Missing 'refresh_token' parameter.")
        self.request.presented_refresh_token = presented
        scope = self.request.payload.scope
        self.request.asked_scopes = scope_tokens(scope) if scope else None

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        tenant = current_tenant()
        container = services()
        client: OAuthClient = self.request.client

        def respond(grant: FamilyGrant, scopes: tuple[str, ...]) -> TokenResponse:
            try:
                user = read_user(container.person_lookup, tenant, grant.subject)
            except NotFound as error:
                raise RefreshRefused("The person this token was issued for is gone.") from error
            # OIDC Core §12.2: no nonce in an ID token from a refresh.
            return token_response(client, user, grant, scopes, nonce=None)

        try:
            body = rotate(
                container.uow(),
                container.refresh_token_lookup,
                container.store,
                container.revocations,
                tenant,
                client.client_id,
                self.request.presented_refresh_token,
                self.request.asked_scopes,
                respond,
                container.settings.tokens.refresh_token_reuse_grace_seconds,
                Origin(client_ip(), g.get("request_id")),
            )
        except ScopeNotGranted as error:
            raise InvalidScopeError(str(error)) from error
        except RefreshRefused as error:
            raise InvalidGrantError(str(error)) from error
        return 200, body, self.TOKEN_RESPONSE_HEADER


def sign_in_tokens(
    client: OAuthClient, user: UserView, grant: FamilyGrant, nonce: str | None
) -> tuple[TokenResponse, IssuedRefreshToken | None]:
    """The first token response of a sign-in (a code, a token exchange): `token_response`, and
    a new refresh token family when the client gets refresh tokens for these scopes."""
    issued = token_response(client, user, grant, grant.scopes, nonce)
    if not should_issue_refresh_token(client.view, grant.scopes):
        return issued, None
    try:
        refresh = start_family(services().uow(), current_tenant(), grant, issued.access_token)
    except RefreshRefused as error:  # the person was deleted a moment ago
        raise InvalidGrantError(str(error)) from error
    issued.body["refresh_token"] = refresh.token
    return issued, refresh


def token_response(
    client: OAuthClient,
    user: UserView,
    grant: FamilyGrant,
    scopes: tuple[str, ...],
    nonce: str | None,
) -> TokenResponse:
    """An access token for `scopes` and, with `openid`, an ID token of the original sign-in.
    Both release what the authorization request asked for by name (`grant.claims`, OIDC Core
    §5.5), at the first token response and at every refresh."""
    tenant = current_tenant()
    container = services()
    ring = container.key_cache.ring(tenant.id)
    issued: IssuedAccessToken = issue_access_token(
        ring=ring,
        issuer=issuer(),
        tenant=tenant,
        client=client.view,
        subject=user.subject,
        scopes=list(scopes),
        # The token is for this issuer's own APIs (userinfo) unless the client names one.
        audience=[issuer()],
        defaults=container.settings.tokens,
        userinfo_claims=grant.claims.userinfo,
    )
    body = bearer_body(issued)
    if "openid" in scopes:
        body["id_token"] = issue_id_token(
            ring,
            issuer(),
            tenant,
            client.view,
            user,
            scopes=scopes,
            access_token=issued.token,
            auth_time=grant.auth_time,
            sid=grant.sid,
            amr=grant.amr,
            nonce=nonce,
            lifetime=issued.expires_in,
            defaults=container.settings.tokens,
            claims_request=grant.claims,
        )
    return TokenResponse(body, issued)
