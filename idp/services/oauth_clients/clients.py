"""Client applications: registration, validation of their metadata, secrets, lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.crypto.secrets import CLIENT_SECRET_PREFIX, digest, matches, new_identifier, new_secret
from idp.models.clients import Client
from idp.models.lookups import ClientLookup, ClientRow
from idp.models.pagination import Page, keyset_page
from idp.models.uow import UnitOfWork
from idp.services.errors import InvalidInput, NotFound
from idp.services.oauth_clients.client_uris import (
    check_https_or_loopback,
    check_origin,
    check_redirect_uri,
    check_redirect_uri_of,
    check_resource,
    check_web_url,
)
from idp.services.signin.consents import OFFLINE_ACCESS
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.claims import SCOPE_CLAIMS
from idp.settings import SIGNING_ALGS, TokenSettings

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token", TOKEN_EXCHANGE)
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
MAX_SECRET_OVERLAP = timedelta(days=30)
APPLICATION_TYPES = ("web", "native")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


@dataclass(frozen=True)
class ClientSpec:
    """What a caller may set on a client; validated by `validate()` before anything is stored."""

    name: str
    grant_types: tuple[str, ...] = ("client_credentials",)
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    public: bool = False
    auth_method: str | None = None
    scopes: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    access_token_lifetime: int | None = None
    id_token_signed_response_alg: str | None = None
    access_token_signed_alg: str | None = None
    is_resource_server: bool = False
    application_type: str = "web"
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    allowed_cors_origins: tuple[str, ...] = ()
    skip_consent: bool = False
    first_party: bool = False
    logo_uri: str | None = None
    always_issue_refresh_token: bool = False

    @property
    def resolved_auth_method(self) -> str:
        if self.public:
            return "none"
        if self.auth_method:
            return self.auth_method
        return "private_key_jwt" if (self.jwks or self.jwks_uri) else "client_secret_basic"

    def validate(self) -> None:
        if not self.name.strip() or len(self.name) > 200:
            raise InvalidInput("name", "must be 1-200 characters")
        if not self.grant_types:
            raise InvalidInput("grant_types", "at least one grant type is required")
        for grant in self.grant_types:
            if grant not in GRANT_TYPES:
                raise InvalidInput("grant_types", f"unsupported grant type '{grant}'")
        method = self.resolved_auth_method
        if method not in AUTH_METHODS:
            raise InvalidInput("auth_method", f"unsupported method '{method}'")
        if self.public and self.auth_method not in (None, "none"):
            raise InvalidInput("auth_method", "a public client authenticates with 'none'")
        if method == "none" and "client_credentials" in self.grant_types:
            # RFC 6749 §4.4: the client credentials grant is for confidential clients only.
            raise InvalidInput("grant_types", "client_credentials needs a confidential client")
        if self.first_party and "authorization_code" not in self.grant_types:
            # Its authorization challenge ends with a code redeemed at the token endpoint.
            raise InvalidInput("first_party", "needs the authorization_code grant")
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise InvalidInput("redirect_uris", "authorization_code needs a redirect URI")
        if self.application_type not in APPLICATION_TYPES:
            raise InvalidInput("application_type", "must be 'web' or 'native'")
        for uri in self.redirect_uris:
            check_redirect_uri("redirect_uris", uri)
            check_redirect_uri_of(self.application_type, uri)
        for uri in self.post_logout_redirect_uris:
            check_redirect_uri("post_logout_redirect_uris", uri)
        for scope in self.scopes:
            if not SCOPE_TOKEN.match(scope):
                raise InvalidInput("scopes", f"'{scope}' is not a valid scope token")
        for resource in self.resources:
            check_resource(resource)
        self._validate_keys(method)
        if self.access_token_lifetime is not None and not 0 < self.access_token_lifetime <= 86400:
            raise InvalidInput("access_token_lifetime", "must be 1-86400 seconds")
        for name in ("id_token_signed_response_alg", "access_token_signed_alg"):
            alg = getattr(self, name)
            if alg is not None and alg not in SIGNING_ALGS:
                raise InvalidInput(name, f"must be one of {', '.join(SIGNING_ALGS)}")
        self._validate_browser_metadata()

    def _validate_keys(self, method: str) -> None:
        if self.jwks and self.jwks_uri:
            raise InvalidInput("jwks", "give jwks or jwks_uri, not both")
        if method == "private_key_jwt" and not (self.jwks or self.jwks_uri):
            raise InvalidInput("jwks", "private_key_jwt needs the client's public keys")
        if self.jwks is not None:
            check_public_jwks(self.jwks)
        if self.jwks_uri is not None:
            check_https_or_loopback("jwks_uri", self.jwks_uri)

    def _validate_browser_metadata(self) -> None:
        """Back-channel logout, logo and CORS origins: URLs that browsers or we will call."""
        if self.backchannel_logout_uri is not None:
            # OIDC Back-Channel Logout 1.0 §2.2: absolute, may have a query, no fragment.
            check_web_url("backchannel_logout_uri", self.backchannel_logout_uri)
        elif self.backchannel_logout_session_required:
            raise InvalidInput(
                "backchannel_logout_session_required", "needs a backchannel_logout_uri"
            )
        if self.logo_uri is not None:
            check_web_url("logo_uri", self.logo_uri)
        for origin in self.allowed_cors_origins:
            check_origin(origin)


@dataclass(frozen=True, slots=True)
class ClientView:
    """An immutable copy of a client, safe to hand to the protocol layer and to cache."""

    tenant_id: int
    client_id: str
    name: str
    secret_digest: str | None
    previous_secret_digest: str | None
    previous_secret_expires_at: datetime | None
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    resources: tuple[str, ...]
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    access_token_lifetime: int | None
    id_token_signed_response_alg: str | None
    access_token_signed_alg: str | None
    is_resource_server: bool
    application_type: str
    backchannel_logout_uri: str | None
    backchannel_logout_session_required: bool
    allowed_cors_origins: tuple[str, ...]
    skip_consent: bool
    first_party: bool
    logo_uri: str | None
    always_issue_refresh_token: bool
    # Registered by a stranger through RFC 7591, not by an admin: its URLs are only called when
    # they lead to public addresses (services/outbound.py).
    self_registered: bool
    created_at: datetime = field(compare=False)

    @classmethod
    def of(cls, client: Client | ClientRow) -> ClientView:
        return cls(
            tenant_id=client.tenant_id,
            client_id=client.client_id,
            name=client.name,
            secret_digest=client.secret_digest,
            previous_secret_digest=client.previous_secret_digest,
            previous_secret_expires_at=client.previous_secret_expires_at,
            token_endpoint_auth_method=client.token_endpoint_auth_method,
            grant_types=tuple(client.grant_types),
            response_types=tuple(client.response_types),
            redirect_uris=tuple(client.redirect_uris),
            post_logout_redirect_uris=tuple(client.post_logout_redirect_uris),
            scopes=tuple(client.scopes),
            resources=tuple(client.resources),
            jwks=client.jwks,
            jwks_uri=client.jwks_uri,
            access_token_lifetime=client.access_token_lifetime,
            id_token_signed_response_alg=client.id_token_signed_response_alg,
            access_token_signed_alg=client.access_token_signed_alg,
            is_resource_server=client.is_resource_server,
            application_type=client.application_type,
            backchannel_logout_uri=client.backchannel_logout_uri,
            backchannel_logout_session_required=client.backchannel_logout_session_required,
            allowed_cors_origins=tuple(client.allowed_cors_origins),
            skip_consent=client.skip_consent,
            first_party=client.first_party,
            logo_uri=client.logo_uri,
            always_issue_refresh_token=client.always_issue_refresh_token,
            self_registered=client.registration_token_digest is not None,
            created_at=client.created_at,
        )

    def accepts_secret(self, secret: str, now: datetime) -> bool:
        """The current secret, or the previous one while its overlap window lasts."""
        if matches(secret, self.secret_digest):
            return True
        overlap = self.previous_secret_expires_at
        return (
            overlap is not None and now < overlap and matches(secret, self.previous_secret_digest)
        )

    def public_dict(self) -> dict[str, Any]:
        """Everything but the secret digests: what `show` and `list` print."""
        overlap = self.previous_secret_expires_at
        return {
            "client_id": self.client_id,
            "name": self.name,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "scopes": list(self.scopes),
            "resources": list(self.resources),
            "jwks": self.jwks,
            "jwks_uri": self.jwks_uri,
            "access_token_lifetime": self.access_token_lifetime,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "access_token_signed_alg": self.access_token_signed_alg,
            "is_resource_server": self.is_resource_server,
            "application_type": self.application_type,
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "backchannel_logout_session_required": self.backchannel_logout_session_required,
            "allowed_cors_origins": list(self.allowed_cors_origins),
            "skip_consent": self.skip_consent,
            "first_party": self.first_party,
            "logo_uri": self.logo_uri,
            "always_issue_refresh_token": self.always_issue_refresh_token,
            "previous_secret_expires_at": overlap.isoformat() if overlap else None,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class IssuedClient:
    client: ClientView
    secret: str | None  # the only time the secret exists in clear


def create_client(uow: UnitOfWork, tenant: TenantView, spec: ClientSpec) -> IssuedClient:
    client, secret = new_client(tenant.id, spec)
    with uow:
        uow.clients.add(client)
        uow.commit()
        return IssuedClient(ClientView.of(client), secret)


def new_client(tenant_id: int, spec: ClientSpec) -> tuple[Client, str | None]:
    """A validated client, not yet stored, and its secret (None if it has none).

    Separate from `create_client` so dynamic registration (services/oauth_clients/registration.py)
    can store it in the same transaction that spends an initial access token.
    """
    spec.validate()
    method = spec.resolved_auth_method
    secret = new_secret(CLIENT_SECRET_PREFIX) if method in SECRET_METHODS else None
    return (
        Client(
            tenant_id=tenant_id,
            client_id=new_identifier(16),
            secret_digest=digest(secret) if secret else None,
            token_endpoint_auth_method=method,
            **_stored_metadata(spec),
        ),
        secret,
    )


def default_scopes(grant_types: tuple[str, ...]) -> list[str]:
    """What a client registered without scopes may ask for: a sign-in client gets the standard
    OIDC scopes (and `offline_access` when it may refresh), so `openid email profile` works
    out of the box; a machine client nothing until its scopes are set."""
    if "authorization_code" not in grant_types:
        return []
    refresh = [OFFLINE_ACCESS] if "refresh_token" in grant_types else []
    return [*SCOPE_CLAIMS, *refresh]


def built_in_client(tenant_id: int, client_id: str, spec: ClientSpec) -> Client:
    """A public client we define ourselves (the account page's), not yet stored.

    Its metadata is ours, not a caller's, so it skips `validate`: its redirect URI is built
    from `server.public_url`, which settings allow to be plain http on a private network, where
    a web client's redirect URI would have to be https.
    """
    return Client(
        tenant_id=tenant_id,
        client_id=client_id,
        secret_digest=None,
        token_endpoint_auth_method=spec.resolved_auth_method,  # "none": public
        **_stored_metadata(spec),
    )


def _stored_metadata(spec: ClientSpec) -> dict[str, Any]:
    """The columns a validated spec sets, as stored: lists, and sets without duplicates."""
    return {
        "name": spec.name.strip(),
        "grant_types": list(spec.grant_types),
        "response_types": ["code"] if "authorization_code" in spec.grant_types else [],
        "redirect_uris": list(spec.redirect_uris),
        "post_logout_redirect_uris": list(spec.post_logout_redirect_uris),
        "scopes": list(dict.fromkeys(spec.scopes)) or default_scopes(spec.grant_types),
        "resources": list(dict.fromkeys(spec.resources)),
        "jwks": spec.jwks,
        "jwks_uri": spec.jwks_uri,
        "access_token_lifetime": spec.access_token_lifetime,
        "id_token_signed_response_alg": spec.id_token_signed_response_alg,
        "access_token_signed_alg": spec.access_token_signed_alg,
        "is_resource_server": spec.is_resource_server,
        "application_type": spec.application_type,
        "backchannel_logout_uri": spec.backchannel_logout_uri,
        "backchannel_logout_session_required": spec.backchannel_logout_session_required,
        "allowed_cors_origins": list(dict.fromkeys(spec.allowed_cors_origins)),
        "skip_consent": spec.skip_consent,
        "first_party": spec.first_party,
        "logo_uri": spec.logo_uri,
        "always_issue_refresh_token": spec.always_issue_refresh_token,
    }


def find_client(uow: UnitOfWork, tenant_id: int, client_id: str) -> ClientView | None:
    with uow:
        client = uow.clients.get(tenant_id, client_id)
        return ClientView.of(client) if client else None


def lookup_client(lookup: ClientLookup, tenant_id: int, client_id: str) -> ClientView | None:
    """`find_client` for the protocol endpoints: one round trip, no session (models.lookups)."""
    row = lookup.find(tenant_id, client_id)
    return ClientView.of(row) if row else None


def get_client(uow: UnitOfWork, tenant: TenantView, client_id: str) -> ClientView:
    client = find_client(uow, tenant.id, client_id)
    if client is None:
        raise NotFound(f"no client '{client_id}' in tenant '{tenant.slug}'")
    return client


def list_clients(uow: UnitOfWork, tenant: TenantView) -> list[ClientView]:
    with uow:
        return [ClientView.of(client) for client in uow.clients.list(tenant.id)]


def rotate_secret(
    uow: UnitOfWork, tenant: TenantView, client_id: str, keep_old_until: datetime | None = None
) -> IssuedClient:
    """A new secret; the old one dies now, or keeps working until `keep_old_until`.

    The overlap lets every instance of a client switch to the new secret without an outage.
    It is bounded, so a forgotten rotation cannot leave a leaked secret alive for long, and a
    second rotation ends any earlier overlap: at most two secrets are ever valid.
    """
    now = datetime.now(UTC)
    if keep_old_until is not None:
        if keep_old_until.tzinfo is None:
            raise InvalidInput("old_secret_expires_at", "needs a time zone offset")
        if not now < keep_old_until <= now + MAX_SECRET_OVERLAP:
            raise InvalidInput("old_secret_expires_at", "must be in the next 30 days")
    with uow:
        client = uow.clients.get(tenant.id, client_id)
        if client is None:
            raise NotFound(f"no client '{client_id}' in tenant '{tenant.slug}'")
        if client.token_endpoint_auth_method not in SECRET_METHODS:
            raise InvalidInput("client_id", "this client does not authenticate with a secret")
        secret = new_secret(CLIENT_SECRET_PREFIX)
        client.previous_secret_digest = client.secret_digest if keep_old_until else None
        client.previous_secret_expires_at = keep_old_until
        client.secret_digest = digest(secret)
        uow.commit()
        return IssuedClient(ClientView.of(client), secret)


def delete_client(uow: UnitOfWork, tenant: TenantView, client_id: str) -> None:
    with uow:
        client = uow.clients.get(tenant.id, client_id)
        if client is None:
            raise NotFound(f"no client '{client_id}' in tenant '{tenant.slug}'")
        uow.clients.delete(client)
        uow.commit()


def check_public_jwks(jwks: dict[str, Any]) -> None:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise InvalidInput("jwks", "must be a JWK set with at least one key")
    try:
        key_set = KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise InvalidInput("jwks", f"not a valid JWK set: {error}") from error
    for key in key_set.keys:
        if key.is_private:
            raise InvalidInput("jwks", "contains private key material: register public keys only")


def longest_token_lifetime(uow: UnitOfWork, tenant: TenantView, defaults: TokenSettings) -> int:
    """The longest lifetime any token of this tenant may have: how long a retired key must stay."""
    lifetimes = [defaults.access_token_lifetime_seconds, tenant.access_token_lifetime or 0]
    with uow:
        lifetimes += [c.access_token_lifetime or 0 for c in uow.clients.list(tenant.id)]
    return max(lifetimes)


def page_clients(
    uow: UnitOfWork, tenant: TenantView, after: int | None, limit: int
) -> Page[ClientView]:
    with uow:
        query = select(Client).where(Client.tenant_id == tenant.id)
        page = keyset_page(uow.session, query, Client.id, after, limit)
        return Page([ClientView.of(client) for client in page.items], page.next_after)


UPDATABLE = (
    "name",
    "grant_types",
    "redirect_uris",
    "post_logout_redirect_uris",
    "scopes",
    "resources",
    "jwks",
    "jwks_uri",
    "access_token_lifetime",
    "id_token_signed_response_alg",
    "access_token_signed_alg",
    "is_resource_server",
    "application_type",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "allowed_cors_origins",
    "skip_consent",
    "first_party",
    "logo_uri",
    "always_issue_refresh_token",
)


def update_client(
    uow: UnitOfWork, tenant: TenantView, client_id: str, changes: dict[str, Any]
) -> ClientView:
    """Change registered metadata; the result is validated as a whole, like a new client.

    The authentication method is fixed at registration: switching between secret and key based
    authentication is a new client, so no credential is ever silently dropped or invented.
    """
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    with uow:
        client = uow.clients.get(tenant.id, client_id)
        if client is None:
            raise NotFound(f"no client '{client_id}' in tenant '{tenant.slug}'")
        current = ClientView.of(client)
        merged = {name: getattr(current, name) for name in UPDATABLE} | changes
        spec = ClientSpec(
            public=current.token_endpoint_auth_method == "none",
            auth_method=current.token_endpoint_auth_method,
            **{name: tuple(v) if isinstance(v, list) else v for name, v in merged.items()},
        )
        spec.validate()
        for name, value in _stored_metadata(spec).items():
            setattr(client, name, value)
        uow.commit()
        return ClientView.of(client)


def cors_origins(uow: UnitOfWork, tenant_id: int) -> frozenset[str]:
    """Every origin any client of the tenant allows: who may call its JWKS, and preflights."""
    with uow:
        registered = uow.session.scalars(
            select(Client.allowed_cors_origins).where(Client.tenant_id == tenant_id)
        )
        return frozenset(origin for origins in registered for origin in origins or ())
