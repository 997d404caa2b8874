"""One-time links mailed to a person: e-mail verification, password reset, e-mail change.

The link's token exists in clear only in the mail; the row holds its SHA-256 digest (DESIGN
§6), so a copy of this table opens nothing. Taking a link deletes its row in the same statement
that finds it (models/account_link_repository.py), so a link works once even when two requests
race; a newer link of the same purpose deletes the older ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class AccountLink(Base):
    __tablename__ = "account_links"
    __table_args__ = (Index("ix_account_links_owner", "tenant_id", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # What the link does: services/accounts/one_time_links.py names them.
    purpose: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # What the link carries beyond its owner, e.g. the new address of an e-mail change.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
