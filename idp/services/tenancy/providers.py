"""Upstream identity providers per tenant (Google, GitHub, generic OpenID Connect).

The data model and its management now; the sign-in flow through them is its own issue. The
client secret is sealed with the KEK: we must present it upstream, so a digest would not do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.crypto.kek import Kek
from idp.federation.base import UpstreamConfig
from idp.models.providers import PROVIDER_KINDS, UpstreamProvider
from idp.models.uow import UnitOfWork
from idp.services.errors import Conflict, InvalidInput, NotFound
from idp.services.oauth_clients.clients import SCOPE_TOKEN, check_https_or_loopback
from idp.services.tenancy.tenants import TenantView

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_SCOPES = {
    "google": ("openid", "email", "profile"),
    "github": ("read:user", "user:email"),
    "oidc": ("openid", "email", "profile"),
}
GOOGLE_ISSUER = "https://accounts.google.com"


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

    @classmethod
    def of(cls, row: UpstreamProvider) -> ProviderView:
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
        )

    def public_dict(self) -> dict[str, Any]:
        """Never the secret: only whether one is set."""
        return {
            "slug": self.slug,
            "kind": self.kind,
            "display_name": self.display_name,
            "client_id": self.client_id,
            "client_secret_set": self.has_secret,
            "issuer": self.issuer,
            "scopes": list(self.scopes),
            "enabled": self.enabled,
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
    issuer = fields.get("issuer")
    if kind == "oidc":
        if not issuer:
            raise InvalidInput("issuer", "a generic OpenID provider needs its issuer URL")
        check_https_or_loopback("issuer", issuer)
    elif kind == "google":
        issuer = GOOGLE_ISSUER
    else:
        issuer = None
    row = UpstreamProvider(
        tenant_id=tenant.id,
        slug=slug,
        kind=kind,
        display_name=(fields.get("display_name") or kind.capitalize()).strip()[:200],
        client_id=_client_id(fields.get("client_id")),
        issuer=issuer,
        scopes=_scopes(fields.get("scopes"), kind),
        enabled=bool(fields.get("enabled", True)),
    )
    secret = fields.get("client_secret")
    if secret:
        row.client_secret_sealed = kek.seal(str(secret).encode(), _context(tenant.id, slug))
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
    with uow:
        row = _require(uow, tenant.id, slug)
        if "display_name" in changes:
            row.display_name = str(changes["display_name"]).strip()[:200] or row.kind
        if "client_id" in changes:
            row.client_id = _client_id(changes["client_id"])
        if "client_secret" in changes:
            secret = changes["client_secret"]
            row.client_secret_sealed = (
                kek.seal(str(secret).encode(), _context(tenant.id, slug)) if secret else None
            )
        if "scopes" in changes:
            row.scopes = _scopes(changes["scopes"], row.kind)
        if "issuer" in changes and row.kind == "oidc":
            check_https_or_loopback("issuer", changes["issuer"] or "")
            row.issuer = changes["issuer"]
        if "enabled" in changes:
            row.enabled = bool(changes["enabled"])
        uow.commit()
        return ProviderView.of(row)


def list_providers(uow: UnitOfWork, tenant: TenantView) -> list[ProviderView]:
    with uow:
        query = select(UpstreamProvider).where(UpstreamProvider.tenant_id == tenant.id)
        return [
            ProviderView.of(row) for row in uow.session.scalars(query.order_by(UpstreamProvider.id))
        ]


def get_provider(uow: UnitOfWork, tenant: TenantView, slug: str) -> ProviderView:
    with uow:
        return ProviderView.of(_require(uow, tenant.id, slug))


def provider_secret(uow: UnitOfWork, kek: Kek, tenant: TenantView, slug: str) -> str | None:
    """The clear secret, for the federation flow only; never for display."""
    with uow:
        row = _require(uow, tenant.id, slug)
        if row.client_secret_sealed is None:
            return None
        return kek.open(row.client_secret_sealed, _context(tenant.id, slug)).decode()


def delete_provider(uow: UnitOfWork, tenant: TenantView, slug: str) -> None:
    with uow:
        uow.session.delete(_require(uow, tenant.id, slug))
        uow.commit()


def _client_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise InvalidInput("client_id", "is required (1-255 characters)")
    return value.strip()


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


def upstream_config(
    uow: UnitOfWork, kek: Kek, tenant: TenantView, slug: str
) -> tuple[ProviderView, UpstreamConfig]:
    """The provider and what its adapter needs (idp.federation.provider_for), secret unsealed:
    for the federation flow only. NotFound when the tenant has no such provider."""
    with uow:
        row = _require(uow, tenant.id, slug)
        secret = (
            kek.open(row.client_secret_sealed, _context(tenant.id, slug)).decode()
            if row.client_secret_sealed is not None
            else None
        )
        config = UpstreamConfig(
            kind=row.kind,
            slug=row.slug,
            client_id=row.client_id,
            client_secret=secret,
            issuer=row.issuer,
            scopes=tuple(row.scopes),
            authorization_endpoint=row.authorization_endpoint,
            token_endpoint=row.token_endpoint,
            api_base_url=row.api_base_url,
            allowed_audiences=tuple(row.allowed_audiences or ()),
        )
        return ProviderView.of(row), config
