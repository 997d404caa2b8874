"""Upstream identity providers per tenant (Google, GitHub, generic OpenID Connect).

Their management, and the configuration the federation flow reads (`upstream_config`,
`enabled_providers`). The client secret is sealed with the KEK: we must present it upstream,
so a digest would not do. Fields that do not apply to a kind are refused rather than ignored,
so an admin never believes a setting is in force when it is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.crypto.kek import Kek
from idp.federation.base import UpstreamConfig
from idp.federation.github import (
    GITHUB_API,
    GITHUB_AUTHORIZATION_ENDPOINT,
    GITHUB_TOKEN_ENDPOINT,
)
from idp.federation.google import GOOGLE_ISSUER
from idp.models.lookups import ProviderLookup, ProviderRow
from idp.models.providers import PROVIDER_KINDS, UpstreamProvider
from idp.models.uow import UnitOfWork
from idp.services.errors import Conflict, InvalidInput, NotFound
from idp.services.oauth_clients.client_uris import check_web_url
from idp.services.oauth_clients.clients import SCOPE_TOKEN
from idp.services.tenancy.tenants import TenantView

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_SCOPES = {
    "google": ("openid", "email", "profile"),
    "github": ("read:user", "user:email"),
    "oidc": ("openid", "email", "profile"),
}
# The button says "Continue with …" this when the admin names no display_name.
DEFAULT_NAMES = {"google": "Google", "github": "GitHub", "oidc": "OpenID Connect"}
GITHUB_DEFAULTS = {
    "authorization_endpoint": GITHUB_AUTHORIZATION_ENDPOINT,
    "token_endpoint": GITHUB_TOKEN_ENDPOINT,
    "api_base_url": GITHUB_API,
}
# Which optional fields each kind takes; any other is refused.
KIND_FIELDS = {
    "google": {"issuer", "allowed_audiences"},
    "oidc": {"issuer", "allowed_audiences"},
    "github": set(GITHUB_DEFAULTS),
}
KIND_OPTIONS = {"issuer", "allowed_audiences", *GITHUB_DEFAULTS}
OPTIONS = (*sorted(KIND_OPTIONS), "icon_uri")
MAX_URL = 2048
MAX_AUDIENCES = 20


def callback_url(issuer: str, slug: str) -> str:
    """The redirect URI to register upstream for provider `slug` of the tenant at `issuer`."""
    return f"{issuer}/federation/{slug}/callback"


@dataclass(frozen=True)
class ProviderView:
    slug: str
    kind: str
    display_name: str
    client_id: str
    has_secret: bool
    issuer: str | None
    scopes: tuple[str, ...]
    enabled: bool
    created_at: datetime
    # GitHub's endpoints as in force (github.com's unless overridden); None for OpenID kinds.
    authorization_endpoint: str | None
    token_endpoint: str | None
    api_base_url: str | None
    allowed_audiences: tuple[str, ...]
    icon_uri: str | None

    @classmethod
    def of(cls, row: UpstreamProvider | ProviderRow) -> ProviderView:
        github = row.kind == "github"
        return cls(
            slug=row.slug,
            kind=row.kind,
            display_name=row.display_name,
            client_id=row.client_id,
            has_secret=row.client_secret_sealed is not None,
            issuer=row.issuer,
            scopes=tuple(row.scopes),
            enabled=row.enabled,
            created_at=row.created_at,
            authorization_endpoint=(
                row.authorization_endpoint or GITHUB_AUTHORIZATION_ENDPOINT if github else None
            ),
            token_endpoint=row.token_endpoint or GITHUB_TOKEN_ENDPOINT if github else None,
            api_base_url=row.api_base_url or GITHUB_API if github else None,
            allowed_audiences=tuple(row.allowed_audiences or ()),
            icon_uri=row.icon_uri,
        )

    def public_dict(self, tenant_issuer: str) -> dict[str, Any]:
        """Never the secret: only whether one is set. `tenant_issuer` builds `callback_url`."""
        return {
            "slug": self.slug,
            "kind": self.kind,
            "display_name": self.display_name,
            "client_id": self.client_id,
            "client_secret_set": self.has_secret,
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "api_base_url": self.api_base_url,
            "allowed_audiences": list(self.allowed_audiences),
            "scopes": list(self.scopes),
            "icon_uri": self.icon_uri,
            "enabled": self.enabled,
            "callback_url": callback_url(tenant_issuer, self.slug),
            "created_at": self.created_at.isoformat(),
        }


def _context(tenant_id: int, slug: str) -> str:
    return f"upstream-provider:{tenant_id}:{slug}"


def create_provider(
    uow: UnitOfWork, kek: Kek, tenant: TenantView, fields: dict[str, Any]
) -> ProviderView:
    kind = fields.get("kind")
    if kind not in PROVIDER_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(PROVIDER_KINDS)}")
    slug = fields.get("slug") or kind
    if not SLUG.match(slug):
        raise InvalidInput("slug", "use lowercase letters, digits and inner hyphens")
    row = UpstreamProvider(
        tenant_id=tenant.id,
        slug=slug,
        kind=kind,
        display_name=_display_name(fields.get("display_name"), kind),
        client_id=_client_id(fields.get("client_id")),
        scopes=_scopes(fields.get("scopes"), kind),
        allowed_audiences=[],
        enabled=bool(fields.get("enabled", True)),
    )
    _set_options(row, {name: fields.get(name) for name in OPTIONS})
    secret = fields.get("client_secret")
    if secret:
        row.client_secret_sealed = _sealed(kek, tenant.id, slug, secret)
    with uow:
        if _find(uow, tenant.id, slug):
            raise Conflict(f"provider '{slug}' already exists")
        uow.session.add(row)
        try:
            uow.commit()
        except IntegrityError as error:
            raise Conflict(f"provider '{slug}' already exists") from error
        return ProviderView.of(row)


def update_provider(
    uow: UnitOfWork, kek: Kek, tenant: TenantView, slug: str, changes: dict[str, Any]
) -> ProviderView:
    """Change the fields present in `changes`; null resets an optional one to its default."""
    with uow:
        row = _require(uow, tenant.id, slug)
        if "display_name" in changes:
            row.display_name = _display_name(changes["display_name"], row.kind)
        if "client_id" in changes:
            row.client_id = _client_id(changes["client_id"])
        if "client_secret" in changes:
            secret = changes["client_secret"]
            row.client_secret_sealed = _sealed(kek, tenant.id, slug, secret) if secret else None
        if "scopes" in changes:
            row.scopes = _scopes(changes["scopes"], row.kind)
        _set_options(row, {name: changes[name] for name in OPTIONS if name in changes})
        if "enabled" in changes:
            row.enabled = bool(changes["enabled"])
        uow.commit()
        return ProviderView.of(row)


def list_providers(lookup: ProviderLookup, tenant: TenantView) -> list[ProviderView]:
    """Every provider of the tenant, enabled or not, in creation order."""
    return [ProviderView.of(row) for row in lookup.of_tenant(tenant.id)]


def get_provider(uow: UnitOfWork, tenant: TenantView, slug: str) -> ProviderView:
    with uow:
        return ProviderView.of(_require(uow, tenant.id, slug))


def enabled_providers(lookup: ProviderLookup, tenant: TenantView) -> list[ProviderView]:
    """The tenant's enabled providers, in creation order: the login page's buttons."""
    return [provider for provider in list_providers(lookup, tenant) if provider.enabled]


def upstream_config(
    uow: UnitOfWork, kek: Kek, tenant: TenantView, slug: str
) -> tuple[ProviderView, UpstreamConfig]:
    """An enabled provider and its settings with the secret unsealed, for the federation flow
    only (never for display). A disabled or unknown provider is NotFound alike."""
    with uow:
        row = _find(uow, tenant.id, slug)
        if row is None or not row.enabled:
            raise NotFound(f"no provider '{slug}'")
        view = ProviderView.of(row)
        secret = (
            kek.open(row.client_secret_sealed, _context(tenant.id, slug)).decode()
            if row.client_secret_sealed is not None
            else None
        )
    return view, UpstreamConfig(
        kind=view.kind,
        slug=view.slug,
        client_id=view.client_id,
        client_secret=secret,
        issuer=view.issuer,
        scopes=view.scopes,
        authorization_endpoint=view.authorization_endpoint,
        token_endpoint=view.token_endpoint,
        api_base_url=view.api_base_url,
        allowed_audiences=view.allowed_audiences,
    )


def delete_provider(uow: UnitOfWork, tenant: TenantView, slug: str) -> None:
    with uow:
        uow.session.delete(_require(uow, tenant.id, slug))
        uow.commit()


def _client_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise InvalidInput("client_id", "is required (1-255 characters)")
    return _printable("client_id", value.strip())


def _display_name(value: Any, kind: str) -> str:
    return _printable("display_name", str(value or "").strip()[:200]) or DEFAULT_NAMES[kind]


def _sealed(kek: Kek, tenant_id: int, slug: str, secret: Any) -> bytes:
    return kek.seal(_printable("client_secret", str(secret)).encode(), _context(tenant_id, slug))


def _printable(name: str, value: str) -> str:
    """Text without control characters: PostgreSQL cannot store U+0000, and none of these
    fields has a use for a line break or an escape sequence."""
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
        raise InvalidInput(name, "must not contain control characters")
    return value


def _set_options(row: UpstreamProvider, values: dict[str, Any]) -> None:
    """Set the kind-specific fields and the icon present in `values` (None: the default)."""
    for name, value in values.items():
        if name in KIND_OPTIONS and name not in KIND_FIELDS[row.kind] and value not in (None, []):
            raise InvalidInput(name, f"does not apply to a {row.kind} provider")
    if "issuer" in values and row.kind != "github":
        row.issuer = _issuer(values["issuer"], row.kind)
    for name in GITHUB_DEFAULTS:
        if name in values and row.kind == "github":
            value = values[name]
            setattr(row, name, None if value is None else _upstream_url(name, value))
    if "allowed_audiences" in values:
        row.allowed_audiences = _audiences(values["allowed_audiences"])
    if "icon_uri" in values:
        row.icon_uri = None if values["icon_uri"] is None else _icon_uri(values["icon_uri"])


def _issuer(value: Any, kind: str) -> str:
    if value is None and kind == "google":
        return GOOGLE_ISSUER
    if value is None:
        raise InvalidInput("issuer", "a generic OpenID provider needs its issuer URL")
    issuer = _upstream_url("issuer", value)
    if urlsplit(issuer).query:
        # OpenID Connect Discovery §4.1: an issuer has no query or fragment component.
        raise InvalidInput("issuer", f"'{issuer}' must not have a query")
    return issuer


def _upstream_url(name: str, value: Any) -> str:
    """An https URL (http on loopback, for test and in-house upstreams)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise InvalidInput(name, f"must be a URL of at most {MAX_URL} characters")
    check_web_url(name, value)
    return value


def _icon_uri(value: Any) -> str:
    """Shown on our login page, so https only: no mixed content, no `data:` or script."""
    url = _upstream_url("icon_uri", value)
    if not url.startswith("https://"):
        raise InvalidInput("icon_uri", f"'{url}' must be an https URL")
    return url


def _audiences(value: Any) -> list[str]:
    audiences = value or []
    if not isinstance(audiences, list) or len(audiences) > MAX_AUDIENCES:
        raise InvalidInput("allowed_audiences", f"must be a list of at most {MAX_AUDIENCES}")
    for audience in audiences:
        if not isinstance(audience, str) or not 0 < len(audience.strip()) <= 255:
            raise InvalidInput("allowed_audiences", "each is a client id of 1-255 characters")
        _printable("allowed_audiences", audience)
    return list(dict.fromkeys(audience.strip() for audience in audiences))


def _scopes(value: Any, kind: str) -> list[str]:
    if value is None:
        return list(DEFAULT_SCOPES[kind])
    for scope in value:
        if not SCOPE_TOKEN.match(scope):
            raise InvalidInput("scopes", f"'{scope}' is not a valid scope")
    return list(dict.fromkeys(value))


def _find(uow: UnitOfWork, tenant_id: int, slug: str) -> UpstreamProvider | None:
    return uow.session.scalar(
        select(UpstreamProvider).where(
            UpstreamProvider.tenant_id == tenant_id, UpstreamProvider.slug == slug
        )
    )


def _require(uow: UnitOfWork, tenant_id: int, slug: str) -> UpstreamProvider:
    row = _find(uow, tenant_id, slug)
    if row is None:
        raise NotFound(f"no provider '{slug}'")
    return row
