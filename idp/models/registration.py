"""Dynamic client registration (RFC 7591): the initial access tokens a tenant hands out.

A token is a bearer credential for the registration endpoint (RFC 7591 §3): shown once, stored
only as a SHA-256 digest (DESIGN §6), optionally limited in time and in number of uses.
Registration access tokens (RFC 7592) belong to one client and live on its row
(`clients.registration_token_digest`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class InitialAccessToken(Base):
    __tablename__ = "initial_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public identifier used in URLs and as the audit actor (`dcr:<token_id>`).
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    last_four: Mapped[str] = mapped_column(String(4))
    expires_at: Mapped[datetime | None]
    # None: unlimited. `uses` only grows, by one guarded UPDATE per registration.
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
