"""Audit events: appended once, read newest first, always filtered by tenant (DESIGN §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from idp.models.audit import AuditEvent
from idp.models.pagination import Page
from idp.models.tenants import Tenant

# Events are appended and never read back by the writer: a Core INSERT, not the unit of work's
# flush of a new object. Every sign-in writes one (services/signin/sessions.py).
_ADD = insert(AuditEvent.__table__)


@dataclass(frozen=True)
class AuditQuery:
    """Which events to read. `tenant_id` None with `installation_wide` means every tenant's."""

    tenant_id: int | None
    installation_wide: bool = False
    action: str | None = None
    action_prefix: str | None = None
    actor: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditEvents:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, **values: Any) -> None:
        """One event (the columns of AuditEvent), in the caller's transaction."""
        self._session.execute(_ADD, values)

    def page(
        self, query: AuditQuery, before: int | None, limit: int
    ) -> Page[tuple[AuditEvent, str | None]]:
        """Events with their tenant's slug, newest first; continue below `before` (an id).

        Ids grow with time, so ordering by id is newest first and the keyset stays stable while
        events are being appended.
        """
        statement = self._filtered(query)
        if before is not None:
            statement = statement.where(AuditEvent.id < before)
        rows = self._session.execute(statement.order_by(AuditEvent.id.desc()).limit(limit + 1))
        found = [(event, slug) for event, slug in rows]
        if len(found) > limit:
            return Page(found[:limit], found[limit - 1][0].id)
        return Page(found, None)

    def _filtered(self, query: AuditQuery) -> Select[Any]:
        statement = select(AuditEvent, Tenant.slug).outerjoin(
            Tenant, Tenant.id == AuditEvent.tenant_id
        )
        if not query.installation_wide or query.tenant_id is not None:
            # tenant_id None here selects the installation's own events (IS NULL).
            statement = statement.where(AuditEvent.tenant_id == query.tenant_id)
        if query.action is not None:
            statement = statement.where(AuditEvent.action == query.action)
        if query.action_prefix is not None:
            # A literal prefix: LIKE wildcards in the filter must not widen it.
            statement = statement.where(
                AuditEvent.action.startswith(query.action_prefix, autoescape=True)
            )
        if query.actor is not None:
            statement = statement.where(AuditEvent.actor == query.actor)
        if query.target_id is not None:
            statement = statement.where(AuditEvent.target_id == query.target_id)
        if query.since is not None:
            statement = statement.where(AuditEvent.occurred_at >= query.since)
        if query.until is not None:
            statement = statement.where(AuditEvent.occurred_at < query.until)
        return statement
