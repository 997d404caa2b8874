"""The SQL backend of the short-lived store: correct across processes sharing one database.

Single use is one statement (`DELETE ... RETURNING`), "set if absent" and counters are one
`INSERT ... ON CONFLICT` each, so concurrent workers can never both win. Works on SQLite (3.35+)
and PostgreSQL.

A database that cannot be reached raises StoreUnavailable (idp/models/failures.py decides
which errors mean that); any other database error is a bug and propagates as it is.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, bindparam, case, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from idp.models.db import upsert_insert
from idp.models.failures import DATABASE_ERRORS, DatabaseUnreachable, database_unreachable
from idp.models.raw_reads import CompiledRead
from idp.models.store_entries import StoreEntry
from idp.stores.base import StoreUnavailable

# Expired rows are purged by roughly one write in PURGE_ONE_IN, not by a background job.
PURGE_ONE_IN = 200
# Rows per INSERT in put_many: well under SQLite's limit of bound parameters per statement.
PUT_BATCH = 500

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
_GET = select(StoreEntry.value).where(
    StoreEntry.key == bindparam("key"), StoreEntry.expires_at > bindparam("now")
)
# The single-use reads and writes of a sign-in (transactions, codes, their markers), built once:
# building the expression per call cost more than running it on SQLite.
_TAKE = (
    delete(StoreEntry)
    .where(StoreEntry.key == bindparam("k"), StoreEntry.expires_at > bindparam("now"))
    .returning(StoreEntry.value)
)
_DELETE = delete(StoreEntry).where(StoreEntry.key == bindparam("k"))
_SWAP = (
    update(StoreEntry)
    .where(
        StoreEntry.key == bindparam("k"),
        StoreEntry.value == bindparam("expected"),
        StoreEntry.expires_at > bindparam("now"),
    )
    .values(value=bindparam("v"), count=0, expires_at=bindparam("exp"))
    .returning(StoreEntry.key)
)


def _unavailable_on_failure(method: Callable[P, R]) -> Callable[P, R]:
    """Raise StoreUnavailable for an SQLAlchemy error that says the database did not answer."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except DATABASE_ERRORS as error:
            if database_unreachable(error):
                raise StoreUnavailable(f"database: {type(error).__name__}") from error
            raise

    return call


class SqlStore:
    def __init__(self, engine: Engine, purge_one_in: int = PURGE_ONE_IN) -> None:
        self._engine = engine
        self._purge_one_in = purge_one_in
        self._insert = upsert_insert(engine.dialect.name)
        # `get` is on the hot path (the client cache's generation, rate limits).
        self._get = CompiledRead(engine, _GET)
        # One `put` per refresh (the retry copy): its statement built once, not per call.
        put = self._insert(StoreEntry).values(
            key=bindparam("k"), value=bindparam("v"), count=0, expires_at=bindparam("exp")
        )
        self._put = put.on_conflict_do_update(
            index_elements=[StoreEntry.key],
            set_={"value": put.excluded.value, "count": 0, "expires_at": put.excluded.expires_at},
        )
        # Replace only an expired row; a live one makes the update match nothing.
        self._add = put.on_conflict_do_update(
            index_elements=[StoreEntry.key],
            set_={"value": put.excluded.value, "count": 0, "expires_at": put.excluded.expires_at},
            where=StoreEntry.expires_at <= bindparam("now"),
        ).returning(StoreEntry.key)
        counter = self._insert(StoreEntry).values(
            key=bindparam("k"), value=None, count=bindparam("by"), expires_at=bindparam("exp")
        )
        expired = StoreEntry.expires_at <= bindparam("now")
        self._incr = counter.on_conflict_do_update(
            index_elements=[StoreEntry.key],
            set_={
                "count": case(
                    (expired, counter.excluded.count),
                    else_=StoreEntry.count + counter.excluded.count,
                ),
                "expires_at": case(
                    (expired, counter.excluded.expires_at), else_=StoreEntry.expires_at
                ),
            },
        ).returning(StoreEntry.count)

    @_unavailable_on_failure
    def put(self, key: str, value: str, ttl: float) -> None:
        self._write(self._put, {"k": key, "v": value, "exp": time.time() + ttl})

    @_unavailable_on_failure
    def put_many(self, entries: Sequence[tuple[str, str, float]]) -> None:
        now = time.time()
        # One row per key (the last wins, as with successive puts): PostgreSQL refuses an
        # INSERT ... ON CONFLICT that would update the same row twice.
        rows = {key: (value, now + ttl) for key, value, ttl in entries}
        batch = list(rows.items())
        for start in range(0, len(batch), PUT_BATCH):
            values = [
                {"key": key, "value": value, "count": 0, "expires_at": expires_at}
                for key, (value, expires_at) in batch[start : start + PUT_BATCH]
            ]
            statement = self._insert(StoreEntry).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=[StoreEntry.key],
                set_={
                    "value": statement.excluded.value,
                    "count": 0,
                    "expires_at": statement.excluded.expires_at,
                },
            )
            self._write(statement)

    @_unavailable_on_failure
    def add(self, key: str, value: str, ttl: float) -> bool:
        now = time.time()
        return (
            self._write(self._add, {"k": key, "v": value, "exp": now + ttl, "now": now}) is not None
        )

    @_unavailable_on_failure
    def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        now = time.time()
        params = {"k": key, "expected": expected, "v": value, "exp": now + ttl, "now": now}
        return self._write(_SWAP, params) is not None

    @_unavailable_on_failure
    def get(self, key: str) -> str | None:
        try:
            row = self._get.first({"key": key, "now": time.time()})
        except DatabaseUnreachable as error:
            raise StoreUnavailable(f"database: {error}") from error
        return row[0] if row else None

    def get_many(self, keys: list[str]) -> list[str | None]:
        # Separate reads: `get` costs a few µs on the embedded SQLite, and deployments on
        # PostgreSQL use Redis (DESIGN §3).
        return [self.get(key) for key in keys]

    @_unavailable_on_failure
    def take(self, key: str) -> str | None:
        return self._write(_TAKE, {"k": key, "now": time.time()})

    @_unavailable_on_failure
    def delete(self, key: str) -> None:
        self._write(_DELETE, {"k": key})

    @_unavailable_on_failure
    def incr(self, key: str, ttl: float, by: int = 1) -> int:
        now = time.time()
        result = self._write(self._incr, {"k": key, "exp": now + ttl, "now": now, "by": by})
        assert result is not None
        return int(result)

    @_unavailable_on_failure
    def ping(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def _write(self, statement: object, params: dict[str, object] | None = None) -> str | None:
        with self._engine.begin() as connection:
            result = connection.execute(statement, params)  # type: ignore[call-overload]
            value = result.scalar() if result.returns_rows else None
        if random.randrange(self._purge_one_in) == 0:  # noqa: S311 - load spreading, not security
            self._purge()
        return value

    def _purge(self) -> None:
        """Delete expired rows, in a transaction of its own and after the caller's commit.

        Inside the caller's transaction the purge would hold the caller's row lock while it
        waits for rows other writers hold, and two such writers can deadlock on PostgreSQL.
        Expired rows are already invisible, so a purge that loses a race is simply skipped.
        """
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(StoreEntry).where(StoreEntry.expires_at <= time.time()))
        except DBAPIError:
            log.info("store purge skipped after a concurrent write", exc_info=True)
