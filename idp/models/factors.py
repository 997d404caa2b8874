"""A person's second factors (issue 10 §1): a TOTP authenticator and recovery codes.

The TOTP seed must be read back to check codes, so it is sealed with the KEK (DESIGN §6), bound
to its tenant and user. `last_step` is the last RFC 6238 time step accepted: a code of that
step or an earlier one is refused, so an observed code cannot be replayed, on any instance.
Recovery codes are high-entropy secrets, stored only as SHA-256 digests; `used_at` spends one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class TotpFactor(Base):
    """One authenticator per person; unconfirmed until its first code has been typed."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(Base):
    """One of a person's ten current recovery codes; a new set deletes the old rows."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
