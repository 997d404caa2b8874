"""One SELECT compiled once and run on a pooled DBAPI connection: the hot-path read.

The SQL store's `get` and the revocation records' check run on every introspection and userinfo
request of the embedded set-up. Through a Core execution such a read costs ~40-90 µs on
SQLite; compiled once for the dialect and run on a raw pooled connection, ~12 µs
(bench/RESULTS.md). The raw connection raises the driver's own errors, which SQLAlchemy does not
wrap, so they are sorted here: a database that did not answer raises DatabaseUnreachable (and
its connection never goes back to the pool); anything else is a bug and propagates as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Select

from idp.models.failures import DatabaseUnreachable, driver_error_unreachable


class CompiledRead:
    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        self._engine = engine
        compiled = statement.compile(dialect=engine.dialect)
        self._sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None
        dbapi = engine.dialect.loaded_dbapi
        self._driver_errors = (dbapi.OperationalError, dbapi.InterfaceError)

    def first(self, params: dict[str, object]) -> tuple[Any, ...] | None:
        """The first row for these bound parameters, or None."""
        arguments = tuple(params[name] for name in self._order) if self._order else params
        try:
            connection = self._engine.raw_connection()
        except self._driver_errors as error:
            raise _unreachable_or_bug(error) from error
        try:
            cursor = connection.cursor()
            cursor.execute(self._sql, arguments)
            row = cursor.fetchone()
            cursor.close()
        except self._driver_errors as error:
            if driver_error_unreachable(error):
                connection.invalidate()  # never back to the pool: it is dead
            raise _unreachable_or_bug(error) from error
        finally:
            connection.close()  # back to the pool, which ends any transaction the driver began
        return tuple(row) if row else None


def _unreachable_or_bug(error: Exception) -> Exception:
    if driver_error_unreachable(error):
        return DatabaseUnreachable(type(error).__name__)
    return error
