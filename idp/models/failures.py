"""Which database errors mean "the database cannot be reached" rather than "the code is wrong".

Only the first kind is answered 503 with `Retry-After` (DESIGN §3, §7): the request may succeed
in a moment. A programming error (a bad statement, a broken constraint, a missing table) stays
a 500 with its stack trace in the log, so a bug is never disguised as an outage that clients
retry forever.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes (PostgreSQL manual, appendix A): 08 connection exception, 53 insufficient
# resources (e.g. too many connections), 57 operator intervention (admin shutdown, crash
# shutdown, cannot connect now, query canceled by a statement timeout).
UNREACHABLE_SQLSTATE_CLASSES = ("08", "53", "57")
# SQLite's result codes for a database file that is busy beyond busy_timeout, or unreadable.
UNREACHABLE_SQLITE_CODES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR")
# What SQLAlchemy raises for any database failure; `database_unreachable` sorts them.
DATABASE_ERRORS = (DBAPIError, PoolTimeout)


class DatabaseUnreachable(Exception):
    """A read on a raw pooled connection (models/raw_reads.py) found the database not answering."""


def database_unreachable(error: BaseException) -> bool:
    """True for an SQLAlchemy error that says the database did not answer (connection refused
    or lost, timed out, shutting down, every pooled connection busy beyond pool_timeout)."""
    if isinstance(error, PoolTimeout | DatabaseUnreachable):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError) and driver_error_unreachable(
        error.orig
    )


def driver_error_unreachable(error: BaseException) -> bool:
    """The same judgement for a DB-API driver's own OperationalError or InterfaceError (what a
    raw pooled connection raises, unwrapped by SQLAlchemy)."""
    sqlite_code = getattr(error, "sqlite_errorname", None)
    if sqlite_code is not None:
        return str(sqlite_code).startswith(UNREACHABLE_SQLITE_CODES)
    # psycopg: errors of the connection itself (refused, closed, "server closed the connection
    # unexpectedly") carry no SQLSTATE; errors the server reports carry one.
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate is None or str(sqlstate)[:2] in UNREACHABLE_SQLSTATE_CLASSES
