"""Hot-path reads: one statement, one round trip, no session and no transaction.

The token, introspection and revocation endpoints read one client row per request and write
nothing. Through the unit of work that read costs an ORM session and, on PostgreSQL, three round
trips (psycopg's implicit BEGIN, the SELECT, the ROLLBACK when the session closes). Here it is a
Core SELECT built once, run on a pooled connection in autocommit mode: one round trip.
bench/RESULTS.md has the measurement. Anything that writes still goes through the unit of work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Row, bindparam, select

from idp.models.clients import Client

ClientRow = Row[Any]  # attribute access by column name, like a Client

_clients = Client.__table__
_CLIENT_BY_ID = select(*_clients.columns).where(
    _clients.c.tenant_id == bindparam("tenant_id"),
    _clients.c.client_id == bindparam("client_id"),
)


class ClientLookup:
    """Reads a client by (tenant, client id) for the protocol endpoints."""

    def __init__(self, engine: Engine) -> None:
        # PostgreSQL: autocommit, so psycopg sends no BEGIN and closing needs no ROLLBACK.
        # SQLite's driver never opens a transaction for a SELECT, and switching its isolation
        # level on every checkout would only add work.
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._engine = engine

    def find(self, tenant_id: int, client_id: str) -> ClientRow | None:
        with self._engine.connect() as connection:
            result = connection.execute(
                _CLIENT_BY_ID, {"tenant_id": tenant_id, "client_id": client_id}
            )
            return result.first()
