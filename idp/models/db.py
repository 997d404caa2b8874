"""The database engine: SQLite (embedded default, WAL) or PostgreSQL, chosen by URL."""

from __future__ import annotations

import select
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLAlchemy would otherwise look for psycopg2."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(
    url: str, pool_size: int = 5, connect_timeout: int = 3, pool_timeout: float = 2.0
) -> Engine:
    """The engine for `url`; on PostgreSQL, `connect_timeout` bounds a new connection and
    `pool_timeout` the wait for a free pooled one, so an unreachable database fails fast."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=pool_timeout,
        connect_args={"connect_timeout": connect_timeout},
    )
    event.listen(engine, "checkout", _discard_if_closed_by_server)
    return engine


def _discard_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection the server has closed, before a request uses it.

    A connection resting in the pool has nothing to read: PostgreSQL only speaks when asked.
    If its socket is readable anyway, the server hung up meanwhile (a restart, a failover,
    pg_terminate_backend: it sends a FATAL notice and closes). Raising DisconnectionError makes
    the pool discard it and connect afresh, so the request never sees the dead one. This costs
    one poll() of the socket (about a microsecond) instead of pool_pre_ping's `SELECT 1`, a
    round trip on every checkout; a connection that died silently (no FIN ever arrived) is
    left to the request, which then answers 503 (idp/http/unavailable.py).
    """
    if dbapi_connection.closed or _readable(dbapi_connection.fileno()):
        raise DisconnectionError("the server closed this pooled connection")


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one gunicorn worker writes; busy_timeout makes writers
    # wait for each other instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def upsert_insert(dialect_name: str) -> Callable[..., Any]:
    """The `insert()` of the engine's dialect, whose statements have `on_conflict_do_update`
    (both dialects spell the upsert `INSERT ... ON CONFLICT`, SQLite since 3.24; SQLAlchemy has
    it per dialect, not in the generic insert()).

    Imported here, not at module level: only the dialect in use is loaded, since the other one
    costs each worker 0.7 MB (SQLite's) or 2 MB (PostgreSQL's) for nothing.
    """
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise RuntimeError(f"no upsert for database dialect {dialect_name}")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
