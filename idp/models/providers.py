"""Upstream identity providers a tenant federates with (Google, GitHub, any OpenID provider)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow

PROVIDER_KINDS = ("google", "github", "oidc")


class UpstreamProvider(Base):
    __tablename__ = "upstream_providers"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(255))
    # Encrypted with the KEK (DESIGN §6): we must send it upstream, so it cannot be a digest.
    client_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The issuer of an OpenID provider (Google's by default: https://accounts.google.com);
    # unused for GitHub.
    issuer: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # GitHub's endpoints, overridable for GitHub Enterprise Server and for test upstreams;
    # None means github.com's. Unused by OpenID providers, which publish theirs in discovery.
    authorization_endpoint: Mapped[str | None] = mapped_column(Text)
    token_endpoint: Mapped[str | None] = mapped_column(Text)
    api_base_url: Mapped[str | None] = mapped_column(Text)
    # Google: more `aud` values accepted in a posted ID token (the client ids of the person's
    # Android and iOS apps), beside `client_id`.
    allowed_audiences: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # The button's icon: an https URL of an image; None shows the kind's built-in icon.
    icon_uri: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
