"""Usage counters: batched upserts from the in-process buffer, and the reads behind reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, Date, Exists, Integer, Select, String, bindparam, exists, func, select
from sqlalchemy.orm import Session

from idp.models.db import upsert_insert
from idp.models.tenants import Tenant
from idp.models.usage import ActiveUser, UsageCount
from idp.models.users import User

CountKey = tuple[int, date, str, str]  # tenant id, day, client id ("" for none), metric
ActiveKey = tuple[int, date, int]  # tenant id, day, user id


class UsageCounts:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, counts: Mapping[CountKey, int]) -> None:
        """`count = count + n` for each key of a tenant that still exists, inserting missing
        rows; the counts of a tenant deleted meanwhile are dropped by the statement itself.

        Several processes flush into the same rows; an upsert that adds (never a read followed
        by a write) is what keeps their sums exact. Rows are written in key order: each
        statement locks its rows in the order given, and two processes flushing the same rows
        in their own arrival orders deadlocked on PostgreSQL (the bench's 10,000 tenants); in
        one order, one waits for the other instead.
        """
        rows = [
            {"tenant_id": t, "day": d, "client_id": c, "metric": m, "count": n}
            for (t, d, c, m), n in sorted(counts.items())
            if n
        ]
        if not rows:
            return
        dialect = self._session.get_bind().dialect.name
        connection = self._session.connection()
        if dialect == "postgresql":
            # Every row in one statement: the columns as five arrays, unnested by the server.
            columns = {name: [row[name] for row in rows] for name in rows[0]}
            connection.execute(_upsert_counts(dialect, _unnested_counts()), columns)
        else:
            # One statement compiled once and executed for every row (the driver's executemany).
            connection.execute(_upsert_counts(dialect, _one_count()), rows)

    def add_active_users(self, keys: Iterable[ActiveKey]) -> None:
        """Mark users active on a day; a user already marked stays counted once."""
        rows = [{"tenant_id": t, "day": d, "user_id": u} for t, d, u in sorted(keys)]
        if rows:
            insert = upsert_insert(self._session.get_bind().dialect.name)(ActiveUser)
            self._session.execute(insert.on_conflict_do_nothing(), rows)

    def existing_users(self, user_ids: Iterable[int]) -> set[int]:
        wanted = set(user_ids)
        if not wanted:
            return set()
        return set(self._session.scalars(select(User.id).where(User.id.in_(wanted))))

    def counts(
        self, tenant_id: int, start: date, end: date, client_id: str | None
    ) -> Sequence[tuple[date, str, str, int]]:
        """(day, client id, metric, count) of one tenant for days in [start, end]."""
        statement = select(
            UsageCount.day, UsageCount.client_id, UsageCount.metric, UsageCount.count
        ).where(UsageCount.tenant_id == tenant_id, UsageCount.day.between(start, end))
        if client_id is not None:
            statement = statement.where(UsageCount.client_id == client_id)
        ordered = statement.order_by(UsageCount.day, UsageCount.client_id, UsageCount.metric)
        return [
            (day, client, metric, count)
            for day, client, metric, count in self._session.execute(ordered)
        ]

    def active_users_per_day(self, tenant_id: int, start: date, end: date) -> dict[date, int]:
        statement = (
            select(ActiveUser.day, func.count())
            .where(ActiveUser.tenant_id == tenant_id, ActiveUser.day.between(start, end))
            .group_by(ActiveUser.day)
        )
        return {day: count for day, count in self._session.execute(statement)}

    def distinct_active_users(self, tenant_id: int, start: date, end: date) -> int:
        """Users active on any day of the range, each counted once."""
        statement = select(func.count(func.distinct(ActiveUser.user_id))).where(
            ActiveUser.tenant_id == tenant_id, ActiveUser.day.between(start, end)
        )
        return int(self._session.scalar(statement) or 0)


_COUNT_COLUMNS = {
    "tenant_id": Integer,
    "day": Date,
    "client_id": String,
    "metric": String,
    "count": Integer,
}


def _of_live_tenant(tenant_id: Any) -> Exists:
    return exists().where(Tenant.__table__.c.id == tenant_id)


def _one_count() -> Select[Any]:
    """One row from bound parameters, if its tenant exists (SQLite: executemany)."""
    values = [bindparam(name, type_=kind) for name, kind in _COUNT_COLUMNS.items()]
    return select(*values).where(_of_live_tenant(values[0]))


def _unnested_counts() -> Select[Any]:
    """Every row from five array parameters, those of live tenants (PostgreSQL)."""
    arrays = [bindparam(name, type_=ARRAY(kind)) for name, kind in _COUNT_COLUMNS.items()]
    source = func.unnest(*arrays).table_valued(*_COUNT_COLUMNS).render_derived("counted")
    return select(*source.c).where(_of_live_tenant(source.c.tenant_id))


def _upsert_counts(dialect: str, source: Select[Any]) -> Any:
    """INSERT ... SELECT `source` ... ON CONFLICT DO UPDATE SET count = count + excluded."""
    table = UsageCount.__table__
    insert = upsert_insert(dialect)(table).from_select(list(_COUNT_COLUMNS), source)
    return insert.on_conflict_do_update(
        index_elements=["tenant_id", "day", "client_id", "metric"],
        set_={"count": table.c.count + insert.excluded.count},
    )
