"""What keeps someone out, recorded durably (DESIGN §3): the store only caches these rows.

A Redis that restarts empty or is flushed must never revive a revoked access token, a person's
"everything before this instant is void", or a client assertion already used. Each row lives
until the thing it refuses would have expired anyway; expired rows are purged now and then.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class RevokedAccessToken(Base):
    """An access token (a JWT, so valid by itself) revoked before its `exp` (RFC 7009)."""

    __tablename__ = "revoked_access_tokens"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Unix time, as the token's own `exp`: past it, this row refuses nothing.
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class SubjectRevocation(Base):
    """Every access token issued to `subject` at or before `revoked_before` is void:
    deactivation, sign out everywhere, and (later) a password reset."""

    __tablename__ = "subject_revocations"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Unix times, compared with the tokens' own `iat` and `exp`.
    revoked_before: Mapped[float] = mapped_column(Float)
    # When the longest-lived token it could void expires.
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class UsedClientAssertion(Base):
    """A `private_key_jwt` assertion's `jti`, kept until the assertion expires (RFC 7523 §3)."""

    __tablename__ = "used_client_assertions"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
