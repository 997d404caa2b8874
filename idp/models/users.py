"""A person who signs in at one tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.models.base import Base, utcnow
from idp.models.roles import Role, user_roles


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        UniqueConstraint("tenant_id", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # The stable, non-reassignable `sub` claim; never the email, which can change.
    subject: Mapped[str] = mapped_column(String(64))
    # Normalised by email-validator; unique per tenant.
    email: Mapped[str] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    # URL of the person's profile picture (the OIDC `picture` claim).
    picture: Mapped[str | None] = mapped_column(Text)
    # Values of the tenant's profile attributes (Tenant.profile_attributes), by name.
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    password_hash: Mapped[str | None] = mapped_column(Text)
    # Loaded with the user in one extra query: the roles claim needs them on every sign-in.
    roles: Mapped[list[Role]] = relationship(
        secondary=user_roles, lazy="selectin", order_by=Role.name
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
