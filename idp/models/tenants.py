"""A tenant: one OpenID issuer with its own users, clients and keys, branding and policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow

# Policy defaults of a new tenant, also the server defaults of existing rows (migration 0004).
DEFAULT_PASSWORD_MIN_LENGTH = 8
DEFAULT_SESSION_LIFETIME = 86400  # one day of sign-in
DEFAULT_REFRESH_IDLE_LIFETIME = 14 * 86400
DEFAULT_REFRESH_ABSOLUTE_LIFETIME = 30 * 86400
DEFAULT_MFA_POLICY = "off"
DEFAULT_SIGN_IN_METHODS = ("password",)
DEFAULT_FEDERATION_PROFILE_SYNC = "fill_empty"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    signing_alg: Mapped[str | None] = mapped_column(String(10))
    # None: the installation default (tokens.access_token_lifetime_seconds).
    access_token_lifetime: Mapped[int | None]
    # Branding of the hosted pages (DESIGN §11); None: the tenant's name, no logo, our colour.
    display_name: Mapped[str | None] = mapped_column(String(200))
    logo_url: Mapped[str | None] = mapped_column(Text)
    primary_color: Mapped[str | None] = mapped_column(String(7))
    # The tenant's own stylesheet rules (services/tenancy/custom_css.py checked them).
    custom_css: Mapped[str | None] = mapped_column(Text)
    # Policies (issue 4 §3, seed 002 settings).
    self_registration: Mapped[bool] = mapped_column(default=False, server_default=false())
    password_min_length: Mapped[int] = mapped_column(
        default=DEFAULT_PASSWORD_MIN_LENGTH, server_default=str(DEFAULT_PASSWORD_MIN_LENGTH)
    )
    session_lifetime: Mapped[int] = mapped_column(
        default=DEFAULT_SESSION_LIFETIME, server_default=str(DEFAULT_SESSION_LIFETIME)
    )
    refresh_token_idle_lifetime: Mapped[int] = mapped_column(
        default=DEFAULT_REFRESH_IDLE_LIFETIME, server_default=str(DEFAULT_REFRESH_IDLE_LIFETIME)
    )
    refresh_token_absolute_lifetime: Mapped[int] = mapped_column(
        default=DEFAULT_REFRESH_ABSOLUTE_LIFETIME,
        server_default=str(DEFAULT_REFRESH_ABSOLUTE_LIFETIME),
    )
    mfa_policy: Mapped[str] = mapped_column(
        String(10), default=DEFAULT_MFA_POLICY, server_default=DEFAULT_MFA_POLICY
    )
    sign_in_methods: Mapped[list[str]] = mapped_column(
        JSON,
        default=lambda: list(DEFAULT_SIGN_IN_METHODS),
        server_default=text("'[\"password\"]'"),
    )
    # Accounts (issue 9): whether a person whose address is not yet verified may sign in,
    # whether people may delete their own account, and the tenant's own profile attributes
    # (services/accounts/profile_attributes.py checks the declarations).
    unverified_sign_in: Mapped[bool] = mapped_column(default=True, server_default=true())
    account_deletion: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Passkeys (issue 10 §2): the WebAuthn relying party id; None: the public URL's host.
    passkeys_rp_id: Mapped[str | None] = mapped_column(String(253))
    profile_attributes: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # Federation (issue 11 §3): what an upstream sign-in copies into the profile
    # (services/federation/profile_sync.py).
    federation_profile_sync: Mapped[str] = mapped_column(
        String(16),
        default=DEFAULT_FEDERATION_PROFILE_SYNC,
        server_default=DEFAULT_FEDERATION_PROFILE_SYNC,
    )
    # Dynamic client registration (RFC 7591/7592): off unless the tenant turns it on, and then
    # only with an initial access token unless the tenant opens it to anyone.
    dynamic_registration: Mapped[bool] = mapped_column(default=False, server_default=false())
    dynamic_registration_requires_token: Mapped[bool] = mapped_column(
        default=True, server_default=true()
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
