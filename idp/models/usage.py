"""Usage counters per tenant, day and client (seed 002's analytics)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class UsageCount(Base):
    """One metric (`tokens_issued`, `sign_ins`, `failures`, ...) for a tenant, day and client."""

    __tablename__ = "usage_counts"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # "" when the event has no client (a failed authentication of an unknown client, say).
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class ActiveUser(Base):
    """A user who signed in on a day: distinct users per day without counting twice."""

    __tablename__ = "usage_active_users"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
