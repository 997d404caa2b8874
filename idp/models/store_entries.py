"""Rows of the SQL short-lived store (DESIGN §3), used when no Redis is configured."""

from __future__ import annotations

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class StoreEntry(Base):
    __tablename__ = "store_entries"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(default=0)
    # Unix time; an entry past it is treated as absent and purged lazily.
    expires_at: Mapped[float] = mapped_column(Float, index=True)
