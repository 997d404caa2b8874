"""Queued jobs (models/jobs.py): added, claimed under a lease, finished or put back.

Every change of a claim is one guarded UPDATE, so of concurrent consumers, in one process or in
several instances, exactly one takes a job: on PostgreSQL the second UPDATE waits for the
first's row lock and then re-checks its WHERE against the new row, which no longer matches; on
SQLite writes are serialised by the database lock. Works on both without `SKIP LOCKED`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from idp.models.jobs import QueuedJob


@dataclass(frozen=True)
class ClaimedJob:
    """A job as its consumer sees it while holding the lease."""

    id: int
    kind: str
    tenant_id: int
    payload: dict[str, Any]
    attempts: int  # this attempt included
    created_at: datetime


class QueuedJobs:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, kind: str, tenant_id: int, payload: dict[str, Any], now: datetime) -> QueuedJob:
        job = QueuedJob(
            kind=kind, tenant_id=tenant_id, payload=payload, next_attempt_at=now, created_at=now
        )
        self._session.add(job)
        return job

    def due(self, kinds: Sequence[str], now: datetime, limit: int) -> list[int]:
        """Ids of jobs of `kinds` that may be claimed now, oldest first: a plain read, so an
        idle poll never takes SQLite's write lock."""
        return list(
            self._session.scalars(
                select(QueuedJob.id)
                .where(
                    QueuedJob.kind.in_(kinds), QueuedJob.next_attempt_at <= now, _lease_free(now)
                )
                .order_by(QueuedJob.next_attempt_at, QueuedJob.id)
                .limit(limit)
            )
        )

    def claim(
        self, job_id: int, kinds: Sequence[str], owner: str, now: datetime, lease_until: datetime
    ) -> ClaimedJob | None:
        """Take the job until `lease_until`, if it is still due and nobody holds a live lease."""
        row = self._session.execute(
            update(QueuedJob)
            .where(
                QueuedJob.id == job_id,
                QueuedJob.kind.in_(kinds),
                QueuedJob.next_attempt_at <= now,
                _lease_free(now),
            )
            .values(claimed_by=owner, claimed_until=lease_until, attempts=QueuedJob.attempts + 1)
            .returning(
                QueuedJob.id,
                QueuedJob.kind,
                QueuedJob.tenant_id,
                QueuedJob.payload,
                QueuedJob.attempts,
                QueuedJob.created_at,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        return None if row is None else ClaimedJob(*row)

    def finish(self, job_id: int) -> None:
        """Done, or given up: the row goes whoever holds it now (delivery is at least once)."""
        self._session.execute(
            delete(QueuedJob)
            .where(QueuedJob.id == job_id)
            .execution_options(synchronize_session=False)
        )

    def retry_later(self, job_id: int, owner: str, at: datetime, error: str) -> None:
        """Release the lease and make the job due again at `at`; a no-op for a consumer whose
        lease ran out and was taken over, so it cannot undo the new holder's claim."""
        self._session.execute(
            update(QueuedJob)
            .where(QueuedJob.id == job_id, QueuedJob.claimed_by == owner)
            .values(next_attempt_at=at, claimed_by=None, claimed_until=None, last_error=error)
            .execution_options(synchronize_session=False)
        )


def _lease_free(now: datetime) -> Any:
    return or_(QueuedJob.claimed_until.is_(None), QueuedJob.claimed_until <= now)
