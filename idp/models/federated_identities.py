"""A person's identity at an upstream provider, linked to one of our users.

Keyed by (tenant, upstream issuer, upstream subject), never by e-mail: an address can be
reassigned or unverified upstream, while OpenID Connect Core §5.7 makes only `iss` + `sub`
stable and unique. GitHub has no issuer; its identities use the provider's API base URL
(`https://api.github.com` or an Enterprise Server's), so two GitHub hosts never collide.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class FederatedIdentity(Base):
    __tablename__ = "federated_identities"
    __table_args__ = (UniqueConstraint("tenant_id", "issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The provider it came through; a deleted provider takes its links with it.
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("upstream_providers.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))
    # What the upstream said at the last sign-in, shown on the account page.
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
