"""The audit log: who did what to which object of which tenant, from where, and how it ended.

Entries are written by the entry points (the management API after each write, the `idp`
command, the protocol server on security events); this module decides what an entry may hold.
Details never carry secrets: callers pass names and identifiers only, and `scrub` drops anything
that still looks like a credential, so one careless caller cannot leak a secret into the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idp.crypto.secrets import API_KEY_PREFIX, CLIENT_SECRET_PREFIX
from idp.models.audit import AuditEvent
from idp.models.audit_repository import AuditEvents, AuditQuery
from idp.models.pagination import Page
from idp.models.uow import UnitOfWork
from idp.services.errors import InvalidInput

SUCCESS = "success"
DENIED = "denied"  # refused: missing scope, or an object the caller may not see
FAILED = "failed"  # attempted and rejected: invalid input, conflict, bad credentials
OUTCOMES = (SUCCESS, DENIED, FAILED)

# Key names whose values are credentials or derived from them, whatever the caller meant.
SECRET_WORDS = ("secret", "password", "token", "digest", "assertion", "key", "code", "otp")
SECRET_PREFIXES = (API_KEY_PREFIX, CLIENT_SECRET_PREFIX, "idp_")
TEXT_MAX = 200


@dataclass(frozen=True)
class AuditEntry:
    """One event to record. `tenant_id` None files it under the installation."""

    action: str
    actor: str
    tenant_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: str = SUCCESS
    client_ip: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEventView:
    event_id: int
    tenant: str | None  # the tenant's slug
    occurred_at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    client_ip: str | None
    request_id: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent, slug: str | None) -> AuditEventView:
        return cls(
            event_id=event.id,
            tenant=slug,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            outcome=event.outcome,
            client_ip=event.client_ip,
            request_id=event.request_id,
            details=dict(event.details or {}),
        )

    def public_dict(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "tenant": self.tenant,
            "occurred_at": self.occurred_at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "outcome": self.outcome,
            "client_ip": self.client_ip,
            "request_id": self.request_id,
            "details": self.details,
        }


@dataclass(frozen=True)
class AuditFilter:
    """Filters of a listing; `action` ending in `.*` matches every action with that prefix."""

    action: str | None = None
    actor: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def record_event(uow: UnitOfWork, entry: AuditEntry) -> None:
    """Append one event in its own transaction."""
    with uow:
        add_event(uow, entry)
        uow.commit()


def add_event(uow: UnitOfWork, entry: AuditEntry) -> None:
    """Append one event to the caller's open transaction: it is recorded if and only if the
    change it describes commits, and costs no transaction of its own."""
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {entry.outcome!r}")
    AuditEvents(uow.session).add(
        tenant_id=entry.tenant_id,
        actor=_clip(entry.actor) or "unknown",
        action=_clip(entry.action, 100) or "unknown",
        target_type=_clip(entry.target_type, 50),
        target_id=_clip(_clean_text(entry.target_id)),
        outcome=entry.outcome,
        client_ip=_clip(entry.client_ip, 64),
        request_id=_clip(entry.request_id, 64),
        details=scrub(entry.details),
    )


def page_events(
    uow: UnitOfWork,
    tenant_id: int | None,
    every_tenant: bool,
    filters: AuditFilter,
    before: int | None,
    limit: int,
) -> Page[AuditEventView]:
    """A tenant's events (or, with `every_tenant`, the whole installation's), newest first."""
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("until", "must be later than 'since'")
    action, prefix = filters.action, None
    if action is not None and action.endswith(".*"):
        action, prefix = None, action[:-1]
    query = AuditQuery(
        tenant_id=tenant_id,
        installation_wide=every_tenant,
        action=action,
        action_prefix=prefix,
        actor=filters.actor,
        target_id=filters.target_id,
        since=filters.since,
        until=filters.until,
    )
    with uow:
        page = AuditEvents(uow.session).page(query, before, limit)
        return Page([AuditEventView.of(event, slug) for event, slug in page.items], page.next_after)


def scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Details safe to store: no secret-named keys, no credential-looking values."""
    clean: dict[str, Any] = {}
    for name, value in details.items():
        if any(word in name.lower() for word in SECRET_WORDS):
            continue
        kept = _clean_value(value)
        if kept is not None:
            clean[name] = kept
    return clean


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean_value(item) for item in value]
    if isinstance(value, dict):
        return scrub(value)
    return _clean_text(str(value))


def _clean_text(text: str | None) -> str | None:
    if text is None:
        return None
    if any(prefix in text for prefix in SECRET_PREFIXES):
        return "[redacted]"
    return text[:TEXT_MAX]


def _clip(text: str | None, limit: int = TEXT_MAX) -> str | None:
    return text[:limit] if text is not None else None
