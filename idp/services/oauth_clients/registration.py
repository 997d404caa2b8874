"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), per tenant.

Registered metadata passes `ClientSpec.validate()`, the same rules as a client made through the
management API or the `idp` command: this module only translates RFC 7591 names and JSON types
to a `ClientSpec` and back. What it adds is policy that only strangers need:

- a tenant decides whether registration is on and whether it needs an initial access token;
- a registered client never holds a management scope: access tokens carrying those are accepted
  by the management API (services/management/api_principals.py), so self-registration would
  otherwise be self-promotion to administrator;
- fields outside RFC 7591/OIDC Registration that widen a client's powers (resource server
  introspection, resources, token lifetimes, skipping consent, refresh tokens without
  `offline_access`, CORS origins) are not read from the request at all.

The registration access token (RFC 7592 §1) is one more DESIGN §6 secret: its digest lives on
the client's row, so deleting the client revokes it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from idp.crypto.secrets import REGISTRATION_TOKEN_PREFIX, digest, matches, new_secret
from idp.models.registration_repository import InitialAccessTokens
from idp.models.uow import UnitOfWork
from idp.services.errors import DomainError, InvalidInput
from idp.services.management.api_keys import SCOPES as MANAGEMENT_SCOPES
from idp.services.oauth_clients import initial_access_tokens
from idp.services.oauth_clients.clients import (
    SECRET_METHODS,
    TOKEN_EXCHANGE,
    ClientSpec,
    ClientView,
    delete_client,
    new_client,
    update_client,
)
from idp.services.tenancy.tenants import TenantView

# tenants:, clients:, users:, keys:, audit:, usage: — every scope the management API knows, and
# any future scope of those families.
MANAGEMENT_PREFIXES = tuple(sorted({scope.split(":")[0] + ":" for scope in MANAGEMENT_SCOPES}))
DEFAULT_NAME = "Dynamically registered client"
# RFC 7591 §2 defaults for omitted fields.
DEFAULT_GRANT_TYPES = ("authorization_code",)
DEFAULT_AUTH_METHOD = "client_secret_basic"
# ClientSpec's field names where they differ from RFC 7591's.
RFC_FIELD_NAMES = {
    "name": "client_name",
    "auth_method": "token_endpoint_auth_method",
    "scopes": "scope",
}
REDIRECT_FIELDS = frozenset({"redirect_uris", "post_logout_redirect_uris"})
# What we read from a request; anything else is ignored (RFC 7591 §2), e.g. contacts. Not read
# on purpose: `skip_consent`, `first_party` and `always_issue_refresh_token` (a stranger must
# not declare its own client first-party, never asked for consent, trusted with people's
# passwords at the authorization challenge endpoint, or give itself long-lived tokens the person
# never granted) and `allowed_cors_origins` (an origin that may read our token answers in a
# browser is the tenant's decision). Administrators set those through the API or `idp`.
KNOWN_FIELDS = frozenset(
    {
        "client_name",
        "grant_types",
        "response_types",
        "redirect_uris",
        "post_logout_redirect_uris",
        "token_endpoint_auth_method",
        "scope",
        "jwks",
        "jwks_uri",
        "id_token_signed_response_alg",
        "application_type",
        "backchannel_logout_uri",
        "backchannel_logout_session_required",
        "logo_uri",
    }
)
MAX_PRESENTED = 100


class RegistrationClosed(DomainError):
    """The tenant has dynamic registration off."""


class InvalidRegistrationToken(DomainError):
    """A missing, unknown, expired or used-up initial access token, or a registration access
    token that is not the named client's (RFC 6750 §3.1 `invalid_token`)."""


@dataclass(frozen=True)
class Registration:
    """A client as RFC 7591 §3.2.1 answers it; secrets are set only when just issued."""

    client: ClientView
    client_secret: str | None = None
    registration_token: str | None = None
    initial_token_id: str | None = None  # which initial access token allowed it, if any


def check_open(uow: UnitOfWork, tenant: TenantView) -> TenantView:
    """The tenant as stored now, if registration is on.

    Read fresh rather than from the protocol's tenant cache: turning registration off must stop
    registrations at once on every instance, not after `cache.tenant_seconds`.
    """
    with uow:
        stored = uow.tenants.by_slug(tenant.slug)
        fresh = TenantView.of(stored) if stored else None
    if fresh is None or not fresh.dynamic_registration:
        raise RegistrationClosed("Dynamic client registration is not enabled for this issuer.")
    return fresh


@dataclass(frozen=True)
class Admission:
    """A registration request let in (RFC 7591 §3): the tenant as stored now, and the initial
    access token that let it in (None where the tenant does not require one)."""

    tenant: TenantView
    initial_token_id: str | None = None
    initial_token_digest: str | None = None


def admit(uow: UnitOfWork, tenant: TenantView, initial_token: str | None) -> Admission:
    """Registration is on, and the initial access token (if required) is live.

    Checked before the metadata, so a caller without a token learns nothing about our rules
    (401 before 400). Nothing is spent yet: see `register`.
    """
    tenant = check_open(uow, tenant)
    if not tenant.dynamic_registration_requires_token:
        return Admission(tenant)
    found = initial_access_tokens.find_live_token(uow, tenant.id, initial_token or "")
    if found is None or initial_token is None:
        raise InvalidRegistrationToken("The initial access token is invalid or used up.")
    return Admission(tenant, found.token_id, digest(initial_token))


def register(uow: UnitOfWork, admission: Admission, metadata: dict[str, Any]) -> Registration:
    """RFC 7591 §3: validate the metadata, then store the client and spend a token use at once.

    The use is counted in the transaction that stores the client: a registration refused for
    its metadata spends nothing, and two racing for a token's last use cannot both succeed.
    """
    tenant = admission.tenant
    spec = spec_from_metadata(metadata, auth_method=None)
    client, secret = new_client(tenant.id, spec)
    registration_token = new_secret(REGISTRATION_TOKEN_PREFIX)
    client.registration_token_digest = digest(registration_token)
    with uow:
        if admission.initial_token_digest and not InitialAccessTokens(uow.session).use(
            tenant.id, admission.initial_token_digest, datetime.now(UTC)
        ):
            raise InvalidRegistrationToken("The initial access token is invalid or used up.")
        uow.clients.add(client)
        uow.commit()
        return Registration(
            ClientView.of(client), secret, registration_token, admission.initial_token_id
        )


def authenticate(
    uow: UnitOfWork, tenant: TenantView, client_id: str, presented: str | None
) -> ClientView:
    """RFC 7592 §2: the client named in the URL, if `presented` is its registration access token.

    An unknown client, another client's token and a token of another tenant are all the same
    401: the answer must not tell a guesser which client ids exist.
    """
    check_open(uow, tenant)
    presented = presented or ""
    with uow:
        client = uow.clients.get(tenant.id, client_id)
        stored = client.registration_token_digest if client else None
        view = ClientView.of(client) if client else None
    # matches() compares digests in constant time and is False without a stored digest (clients
    # made through the management API cannot be managed with RFC 7592).
    valid = len(presented) <= MAX_PRESENTED and matches(presented, stored)
    if view is None or not valid:
        raise InvalidRegistrationToken("The registration access token is not valid here.")
    return view


def update(
    uow: UnitOfWork, tenant: TenantView, current: ClientView, metadata: dict[str, Any]
) -> ClientView:
    """RFC 7592 §2.2: the request replaces the metadata; omitted fields take their defaults.

    The authentication method stays what it was registered with (as for `update_client`): an
    omitted one means unchanged, a different one is refused.
    """
    spec = spec_from_metadata(metadata, auth_method=current.token_endpoint_auth_method)
    changes: dict[str, Any] = {
        "name": spec.name,
        "grant_types": list(spec.grant_types),
        "redirect_uris": list(spec.redirect_uris),
        "post_logout_redirect_uris": list(spec.post_logout_redirect_uris),
        "scopes": list(dict.fromkeys(spec.scopes)),
        "jwks": spec.jwks,
        "jwks_uri": spec.jwks_uri,
        "id_token_signed_response_alg": spec.id_token_signed_response_alg,
        "application_type": spec.application_type,
        "backchannel_logout_uri": spec.backchannel_logout_uri,
        "backchannel_logout_session_required": spec.backchannel_logout_session_required,
        "logo_uri": spec.logo_uri,
    }
    try:
        return update_client(uow, tenant, current.client_id, changes)
    except InvalidInput as error:
        raise _rfc_named(error) from error


def deregister(uow: UnitOfWork, tenant: TenantView, client: ClientView) -> None:
    """RFC 7592 §2.3: the client, its registration access token and (through introspection,
    which treats tokens of deleted clients as inactive) its access tokens are gone."""
    delete_client(uow, tenant, client.client_id)


def spec_from_metadata(metadata: dict[str, Any], auth_method: str | None) -> ClientSpec:
    """RFC 7591 §2 metadata as a validated ClientSpec; errors name RFC 7591 fields.

    Fields we do not understand are ignored, as §2 requires; null means omitted (RFC 7592
    §2.2). `auth_method`: the method of an existing client (an update), None for a new one.
    """
    values = {name: value for name, value in metadata.items() if value is not None}
    grant_types = _strings(values, "grant_types", DEFAULT_GRANT_TYPES)
    if TOKEN_EXCHANGE in grant_types:
        # RFC 8693 sign-in with an upstream token is for the tenant's own apps: an admin's call.
        raise InvalidInput("grant_types", "token exchange is granted by an administrator only")
    method = _string(values, "token_endpoint_auth_method")
    if auth_method is not None and method not in (None, auth_method):
        raise InvalidInput(
            "token_endpoint_auth_method", "cannot be changed; register a new client instead"
        )
    method = method or auth_method or DEFAULT_AUTH_METHOD
    jwks = values.get("jwks")
    if jwks is not None and not isinstance(jwks, dict):
        raise InvalidInput("jwks", "must be a JSON object (a JWK set)")
    spec = ClientSpec(
        name=_string(values, "client_name") or DEFAULT_NAME,
        grant_types=grant_types,
        redirect_uris=_strings(values, "redirect_uris", ()),
        post_logout_redirect_uris=_strings(values, "post_logout_redirect_uris", ()),
        public=method == "none",
        auth_method=method,
        scopes=tuple(token for token in (_string(values, "scope") or "").split(" ") if token),
        jwks=jwks,
        jwks_uri=_string(values, "jwks_uri"),
        id_token_signed_response_alg=_string(values, "id_token_signed_response_alg"),
        # OIDC Registration §2: omitted means web.
        application_type=_string(values, "application_type") or "web",
        backchannel_logout_uri=_string(values, "backchannel_logout_uri"),
        backchannel_logout_session_required=_boolean(values, "backchannel_logout_session_required"),
        logo_uri=_string(values, "logo_uri"),
    )
    try:
        spec.validate()
    except InvalidInput as error:
        raise _rfc_named(error) from error
    _check_response_types(values, spec.grant_types)
    if spec.jwks_uri:
        check_public_uri("jwks_uri", spec.jwks_uri)
    if spec.backchannel_logout_uri:
        check_public_uri("backchannel_logout_uri", spec.backchannel_logout_uri)
    refused = [scope for scope in spec.scopes if scope.startswith(MANAGEMENT_PREFIXES)]
    if refused:
        raise InvalidInput(
            "scope", f"management scopes cannot be registered: {' '.join(sorted(refused))}"
        )
    return spec


def check_public_uri(field: str, uri: str) -> None:
    """A self-registered client's `jwks_uri` or `backchannel_logout_uri` must name a public
    https host (RFC 7591 §5).

    We fetch keys from, and POST logout tokens to, those URIs from inside our network, so a
    stranger who may register must not point them at localhost, a private network or a cloud
    metadata address (server-side request forgery). Admins registering through the management
    API are trusted with internal URIs.
    """
    parts = urlsplit(uri)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host:
        raise InvalidInput(field, "must be an https URL")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InvalidInput(field, "must name a public host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name; not an address literal
    if not address.is_global:
        raise InvalidInput(field, "must name a public host")


def is_redirect_field(field: str) -> bool:
    """RFC 7591 §3.2.2: problems of these fields are `invalid_redirect_uri`."""
    return field in REDIRECT_FIELDS


def client_metadata(client: ClientView) -> dict[str, Any]:
    """RFC 7591 §3.2.1: the client's registered metadata, including what we provisioned."""
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
        "client_name": client.name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types),
        "response_types": list(client.response_types),
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
    }
    if client.token_endpoint_auth_method in SECRET_METHODS:
        body["client_secret_expires_at"] = 0  # §3.2.1: required with a secret; 0 = never
    optional = {
        "scope": " ".join(client.scopes) or None,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "application_type": client.application_type,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": (
            client.backchannel_logout_session_required if client.backchannel_logout_uri else None
        ),
        "logo_uri": client.logo_uri,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def _check_response_types(values: dict[str, Any], grant_types: tuple[str, ...]) -> None:
    """RFC 7591 §2.1: response types must agree with grant types (`code` with the code grant).

    Omitted, they are derived from the grant types rather than defaulted to `code`, so a client
    credentials client need not send an empty list.
    """
    if "response_types" not in values:
        return
    expected = {"code"} if "authorization_code" in grant_types else set()
    if set(_strings(values, "response_types", ())) != expected:
        wanted = "only 'code'" if expected else "empty"
        raise InvalidInput("response_types", f"must be {wanted} for these grant_types")


def _string(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(name, "must be a string")
    return value


def _boolean(values: dict[str, Any], name: str) -> bool:
    value = values.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput(name, "must be true or false")
    return value


def _strings(values: dict[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = values.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(name, "must be an array of strings")
    return tuple(value)


def _rfc_named(error: InvalidInput) -> InvalidInput:
    field = RFC_FIELD_NAMES.get(error.field, error.field)
    return InvalidInput(field, error.message) if field != error.field else error
