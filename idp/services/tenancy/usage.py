"""Usage analytics (seed 002): tokens, failures, sign-ins and active users per day and client.

Counting must not cost the token endpoint a database round trip: each process adds to counters
in memory and a background thread flushes them every `usage.flush_seconds` (and at exit) as
`count = count + n` upserts, so several workers and instances sum exactly. A process killed
without exiting loses at most that many seconds of counts.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from idp.models.failures import database_unreachable
from idp.models.uow import UnitOfWork
from idp.models.usage_repository import ActiveKey, CountKey, UsageCounts
from idp.services.errors import InvalidInput
from idp.services.tenancy.tenants import TenantView

TOKENS_ISSUED = "tokens_issued"
FAILURES = "failures"
SIGN_INS = "sign_ins"
# Federation (issue 11 §6): sign-ins through an upstream (also counted in SIGN_INS), accounts
# created just in time, identities linked and unlinked, and round trips that ended without a
# sign-in (cancelled, an upstream failure, or refused by the linking rules).
FEDERATED_SIGN_INS = "federated_sign_ins"
FEDERATED_SIGNUPS = "federated_signups"
IDENTITY_LINKS = "identity_links"
IDENTITY_UNLINKS = "identity_unlinks"
FEDERATION_FAILURES = "federation_failures"
FEDERATION_METRICS = (
    FEDERATED_SIGN_INS,
    FEDERATED_SIGNUPS,
    IDENTITY_LINKS,
    IDENTITY_UNLINKS,
    FEDERATION_FAILURES,
)
METRICS = (TOKENS_ISSUED, FAILURES, SIGN_INS, *FEDERATION_METRICS)
MAX_DAYS = 366
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

log = logging.getLogger(__name__)


def utc_today() -> date:
    return datetime.now(UTC).date()


class UsageRecorder:
    """Per-process usage counters, flushed to the database in the background.

    Recording is a dictionary update under a lock: no I/O on the request path. The flusher
    thread starts with the first count recorded in a process, so commands that never count
    start none, and a forked worker starts its own.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        flush_seconds: int,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self._session_factory = session_factory
        self._flush_seconds = flush_seconds
        self._today = today
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._counts: Counter[CountKey] = Counter()
        self._active: set[ActiveKey] = set()
        self._owner_pid: int | None = None
        self._exit_hook = False
        self._stop = threading.Event()
        os.register_at_fork(after_in_child=self._forget_parent)

    def record_token_issued(self, tenant_id: int, client_id: str) -> None:
        self._count(tenant_id, client_id, TOKENS_ISSUED)

    def record_failure(self, tenant_id: int, client_id: str | None) -> None:
        """A failed client authentication or a token error; None when no client is known."""
        self._count(tenant_id, client_id, FAILURES)

    def record_sign_in(self, tenant_id: int, user_id: int, client_id: str | None) -> None:
        """A user signed in (through `client_id`, if any): counts a sign-in, marks them active."""
        day = self._count(tenant_id, client_id, SIGN_INS)
        with self._lock:
            self._active.add((tenant_id, day, user_id))

    def record_federation(self, tenant_id: int, client_id: str | None, metric: str) -> None:
        """One federation event: `metric` is one of FEDERATION_METRICS."""
        if metric not in FEDERATION_METRICS:
            raise ValueError(f"unknown federation metric {metric!r}")
        self._count(tenant_id, client_id, metric)

    def flush(self) -> int:
        """Write what was counted so far; returns how many counter rows were written.

        Safe to call from any thread at any time: the buffer is swapped out under the lock and
        written outside it, so recording never waits for the database. If the write fails, the
        counts go back into the buffer for the next flush.
        """
        with self._flush_lock:
            with self._lock:
                counts, self._counts = self._counts, Counter()
                active, self._active = self._active, set()
            if not counts and not active:
                return 0
            try:
                self._write(counts, active)
            except Exception:
                with self._lock:
                    self._counts.update(counts)
                    self._active |= active
                raise
            return len(counts)

    def close(self) -> None:
        """Stop the flusher and write the rest (at process exit)."""
        self._stop.set()
        try:
            self.flush()
        except Exception:  # at exit nobody can retry; say what was lost
            log.exception("usage counts could not be written at exit")

    def _count(self, tenant_id: int, client_id: str | None, metric: str) -> date:
        day = self._today()
        with self._lock:
            self._counts[(tenant_id, day, client_id or "", metric)] += 1
            if self._owner_pid != os.getpid():
                self._start_flusher()
        return day

    def _start_flusher(self) -> None:
        """Called under the lock, once per process that counts."""
        self._owner_pid = os.getpid()
        thread = threading.Thread(target=self._run, name="usage-flusher", daemon=True)
        thread.start()
        if not self._exit_hook:  # a forked child inherits the hook with the rest of atexit
            atexit.register(self.close)
            self._exit_hook = True

    def _forget_parent(self) -> None:
        """In a forked child: the buffer copied from the parent is the parent's to write, and a
        lock some other parent thread held at the fork would never be released here."""
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._counts = Counter()
        self._active = set()
        self._owner_pid = None
        self._stop = threading.Event()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._flush_seconds):
            try:
                self.flush()
            except Exception as error:  # the database may be away for a while; counts are kept
                if database_unreachable(error):  # an outage is one line, not a stack each time
                    log.warning("usage counts not written (database unreachable); retrying later")
                else:
                    log.exception("usage counts could not be written; retrying later")

    def _write(self, counts: Counter[CountKey], active: set[ActiveKey]) -> None:
        with self._session_factory() as session:
            repository = UsageCounts(session)
            repository.add(counts)
            # A person's rows go with their tenant's: one who still exists has a tenant too.
            users = repository.existing_users({a[2] for a in active})
            repository.add_active_users(a for a in active if a[2] in users)
            session.commit()


@dataclass(frozen=True)
class UsageReport:
    start: date
    end: date
    client_id: str | None
    totals: dict[str, int | None]
    days: list[dict[str, Any]]
    clients: list[dict[str, Any]]
    rows: list[dict[str, Any]]

    def public_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "client_id": self.client_id,
            "totals": self.totals,
            "days": self.days,
            "clients": self.clients,
            "rows": self.rows,
        }


def parse_range(start: str | None, end: str | None, today: date | None = None) -> tuple[date, date]:
    """`from`/`to` as YYYY-MM-DD (UTC days, both included); default: the last 30 days.

    A parameter sent empty is refused like any other value that is not a date.
    """
    today = today or utc_today()
    last = _day("to", end) if end is not None else today
    first = _day("from", start) if start is not None else last - timedelta(days=29)
    if first > last:
        raise InvalidInput("from", "must not be after 'to'")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput("to", f"a report covers at most {MAX_DAYS} days")
    return first, last


def usage_report(
    uow: UnitOfWork, tenant: TenantView, start: date, end: date, client_id: str | None = None
) -> UsageReport:
    """Counts already flushed by every process, per day, per client and per (day, client).

    `days` lists every day of the range; `rows` only (day, client) pairs with counts.
    Active users are distinct users per day (and over the whole range in the totals); they are
    not broken down by client, and are None when the report is filtered to one client.
    """
    with uow:
        repository = UsageCounts(uow.session)
        counted = repository.counts(tenant.id, start, end, client_id)
        per_day_active = (
            repository.active_users_per_day(tenant.id, start, end) if client_id is None else {}
        )
        range_active = (
            repository.distinct_active_users(tenant.id, start, end) if client_id is None else None
        )
    rows: dict[tuple[date, str], dict[str, int]] = {}
    # Every day of the range, zeros included: a chart needs no gap filling.
    days = {start + timedelta(days=n): _zeros() for n in range((end - start).days + 1)}
    clients: dict[str, dict[str, int]] = {}
    for day, client, metric, count in counted:
        if metric not in METRICS:
            continue
        for bucket in (
            rows.setdefault((day, client), _zeros()),
            days.setdefault(day, _zeros()),
            clients.setdefault(client, _zeros()),
        ):
            bucket[metric] += count
    totals: dict[str, int | None] = {m: sum(d[m] for d in days.values()) for m in METRICS}
    totals["active_users"] = range_active
    return UsageReport(
        start=start,
        end=end,
        client_id=client_id,
        totals=totals,
        days=[
            {
                "day": day.isoformat(),
                **days[day],
                "active_users": per_day_active.get(day, 0) if client_id is None else None,
            }
            for day in sorted(days)
        ],
        clients=[{"client_id": c or None, **clients[c]} for c in sorted(clients)],
        rows=[
            {"day": day.isoformat(), "client_id": client or None, **counts}
            for (day, client), counts in sorted(rows.items())
        ],
    )


def _zeros() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


def _day(field: str, text: str) -> date:
    # Exactly YYYY-MM-DD: fromisoformat alone would also take "20240101" or "2024-W01-1".
    if ISO_DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidInput(field, "must be a date as YYYY-MM-DD")
