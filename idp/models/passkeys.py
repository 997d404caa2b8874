"""A person's passkeys (issue 10 §2): WebAuthn public-key credentials registered on the account
page, used to sign in with no password or as the second factor after one.

Nothing here is secret: the private key never leaves the authenticator. `sign_count` is the
last signature counter seen (WebAuthn §6.1.1): a lower one later signals a cloned
authenticator. `backup_eligible` (the BE flag) says the credential may be synced between
devices, which decides its `amr` (`swk` rather than `hwk`, see services/factors/passkeys.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class Passkey(Base):
    """One registered credential; a person may have several, each named by them."""

    __tablename__ = "passkeys"
    __table_args__ = (UniqueConstraint("tenant_id", "credential_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key (WebAuthn §6.5.1.1)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    transports: Mapped[list[str]] = mapped_column(JSON)
    user_verified: Mapped[bool]  # at registration
    backup_eligible: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
