"""The "Continue with …" buttons of the login and sign-up pages: the tenant's enabled providers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from idp.models.providers import UpstreamProvider
from idp.models.uow import UnitOfWork
from idp.services.tenancy.tenants import TenantView


@dataclass(frozen=True)
class ProviderButton:
    slug: str
    kind: str  # google and github have a built-in icon
    display_name: str
    icon_uri: str | None  # an https image the operator chose, else None


def sign_in_buttons(uow: UnitOfWork, tenant: TenantView) -> list[ProviderButton]:
    """Enabled providers in the order they were added."""
    with uow:
        query = (
            select(UpstreamProvider)
            .where(UpstreamProvider.tenant_id == tenant.id, UpstreamProvider.enabled.is_(True))
            .order_by(UpstreamProvider.id)
        )
        return [
            ProviderButton(
                row.slug,
                row.kind,
                row.display_name,
                row.icon_uri if (row.icon_uri or "").startswith("https://") else None,
            )
            for row in uow.session.scalars(query)
        ]
