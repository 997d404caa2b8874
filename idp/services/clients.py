"""Client applications: registration, validation of their metadata, secrets, lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.crypto.secrets import CLIENT_SECRET_PREFIX, digest, matches, new_identifier, new_secret
from idp.models.clients import Client
from idp.models.lookups import ClientLookup, ClientRow
from idp.models.pagination import Page, keyset_page
from idp.models.uow import UnitOfWork
from idp.services.errors import InvalidInput, NotFound
from idp.services.tenants import TenantView
from idp.settings import SIGNING_ALGS, TokenSettings

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
MAX_SECRET_OVERLAP = timedelta(days=30)
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]", "localhost")
# RFC 3986 §2: unreserved, reserved and percent-encoded characters; nothing else.
URI_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")


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
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise InvalidInput("redirect_uris", "authorization_code needs a redirect URI")
        for uri in self.redirect_uris:
            check_redirect_uri("redirect_uris", uri)
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

    def _validate_keys(self, method: str) -> None:
        if self.jwks and self.jwks_uri:
            raise InvalidInput("jwks", "give jwks or jwks_uri, not both")
        if method == "private_key_jwt" and not (self.jwks or self.jwks_uri):
            raise InvalidInput("jwks", "private_key_jwt needs the client's public keys")
        if self.jwks is not None:
            check_public_jwks(self.jwks)
        if self.jwks_uri is not None:
            check_https_or_loopback("jwks_uri", self.jwks_uri)


@dataclass(frozen=True)
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
    logo_uri: str | None
    always_issue_refresh_token: bool
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
            logo_uri=client.logo_uri,
            always_issue_refresh_token=client.always_issue_refresh_token,
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

    Separate from `create_client` so dynamic registration (services/registration.py) can store
    it in the same transaction that spends an initial access token.
    """
    spec.validate()
    method = spec.resolved_auth_method
    secret = new_secret(CLIENT_SECRET_PREFIX) if method in SECRET_METHODS else None
    return (
        Client(
            tenant_id=tenant_id,
            client_id=new_identifier(16),
            name=spec.name.strip(),
            secret_digest=digest(secret) if secret else None,
            token_endpoint_auth_method=method,
            grant_types=list(spec.grant_types),
            response_types=["code"] if "authorization_code" in spec.grant_types else [],
            redirect_uris=list(spec.redirect_uris),
            post_logout_redirect_uris=list(spec.post_logout_redirect_uris),
            scopes=list(dict.fromkeys(spec.scopes)),
            resources=list(dict.fromkeys(spec.resources)),
            jwks=spec.jwks,
            jwks_uri=spec.jwks_uri,
            access_token_lifetime=spec.access_token_lifetime,
            id_token_signed_response_alg=spec.id_token_signed_response_alg,
            access_token_signed_alg=spec.access_token_signed_alg,
            is_resource_server=spec.is_resource_server,
        ),
        secret,
    )


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


def check_redirect_uri(field_name: str, uri: str) -> None:
    """RFC 9700 §4.1: absolute, exact, no fragment, no wildcard; http only on loopback."""
    if not URI_CHARACTERS.match(uri):
        # Spaces, quotes, backslashes, controls and raw non-ASCII are not URI characters; a
        # browser would "fix" them, so what is compared would not be what was registered.
        raise InvalidInput(field_name, f"'{uri}' is not a URI (RFC 3986); percent-encode it")
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri or "*" in uri:
        raise InvalidInput(field_name, f"'{uri}' must be absolute, without fragment or wildcard")
    if parts.scheme in ("javascript", "data", "vbscript", "file"):
        raise InvalidInput(field_name, f"'{uri}' uses a forbidden scheme")
    if parts.scheme in ("http", "https"):
        if not parts.hostname or parts.username or parts.password:
            raise InvalidInput(field_name, f"'{uri}' needs a host and no user info")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
            raise InvalidInput(field_name, f"'{uri}': http is only allowed for loopback")
    elif "." not in parts.scheme:
        # RFC 8252 §7.1: private-use schemes are reverse domain names (com.example.app:/cb).
        raise InvalidInput(field_name, f"'{uri}': a custom scheme must be a reverse domain name")


def check_resource(resource: str) -> None:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(resource)
    if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment or "#" in resource:
        raise InvalidInput("resources", f"'{resource}' must be an absolute URI without fragment")


def check_https_or_loopback(field_name: str, uri: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise InvalidInput(field_name, f"'{uri}' must be an https URL")


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
            name=merged["name"],
            grant_types=tuple(merged["grant_types"]),
            redirect_uris=tuple(merged["redirect_uris"]),
            post_logout_redirect_uris=tuple(merged["post_logout_redirect_uris"]),
            public=current.token_endpoint_auth_method == "none",
            auth_method=current.token_endpoint_auth_method,
            scopes=tuple(merged["scopes"]),
            resources=tuple(merged["resources"]),
            jwks=merged["jwks"],
            jwks_uri=merged["jwks_uri"],
            access_token_lifetime=merged["access_token_lifetime"],
            id_token_signed_response_alg=merged["id_token_signed_response_alg"],
            access_token_signed_alg=merged["access_token_signed_alg"],
            is_resource_server=bool(merged["is_resource_server"]),
        )
        spec.validate()
        for name in changes:
            value = merged[name]
            setattr(client, name, list(value) if isinstance(value, tuple) else value)
        client.name = spec.name.strip()
        client.response_types = ["code"] if "authorization_code" in spec.grant_types else []
        uow.commit()
        return ClientView.of(client)
