"""Work queued for later in the database (DESIGN §9): a crashed worker loses none of it.

A row is one job: what to do (`kind`), for which tenant, and the plain values the handler
needs (`payload`), never a secret or a signed token, which it builds when it runs. A consumer
takes a job by writing a lease (`claimed_by`, `claimed_until`); a lease that runs out, because
its holder died, lets any other consumer take the job again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class QueuedJob(Base):
    __tablename__ = "queued_jobs"
    # What every poll asks: the due jobs, oldest first.
    __table_args__ = (Index("ix_queued_jobs_due", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Counted when a consumer claims the job, so a job whose holder keeps dying still ends.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why the last attempt failed, as the handler put it: a status or an error class, never a
    # token, a secret or a URL (which may carry the client's own secrets).
    last_error: Mapped[str | None] = mapped_column(Text)
