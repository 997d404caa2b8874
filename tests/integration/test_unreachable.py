"""What counts as "unreachable" (503) and what stays a bug (500), judged on real failures.

Each error here is produced by a real database, Redis or closed port on 127.0.0.1: a refused
connection, a connection the server terminated, a missing table, a Redis value of the wrong
type. Only the first kind may ever be answered 503; a bug answered 503 would be retried by
every client forever and hidden from whoever reads the 500s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_client
import requests
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from idp.models.db import make_engine, normalise_url
from idp.models.failures import database_unreachable
from idp.models.schema import upgrade
from idp.services.container import build_services
from idp.services.management.api_keys import OPERATOR, create_api_key
from idp.stores import StoreUnavailable
from idp.stores.redis import RedisStore
from idp.stores.sql import SqlStore
from tests.conftest import settings_for_tests
from tests.support.backends import Backend, backend_for
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.server import start_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    yield from backend_for(request, tmp_path_factory)


@pytest.fixture
def engine(backend: Backend) -> Iterator[Engine]:
    engine = make_engine(backend.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def closed_port_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/test"


def error_of(engine: Engine, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
        connection.execute(text(statement))
    return raised.value


def test_a_refused_connection_is_unreachable() -> None:
    engine = make_engine(closed_port_url())
    assert database_unreachable(error_of(engine, "SELECT 1"))


def test_a_missing_table_is_a_bug(engine: Engine) -> None:
    assert not database_unreachable(error_of(engine, "SELECT * FROM no_such_table"))


def test_a_connection_the_server_terminated_is_unreachable(backend: Backend) -> None:
    if backend.name != "postgres":
        pytest.skip("an SQLite file has no server to terminate the connection")
    engine = make_engine(backend.database_url)
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        admin = create_engine(normalise_url(backend.database_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        admin.dispose()
        with pytest.raises(DBAPIError) as raised:
            connection.execute(text("SELECT 1"))
    assert database_unreachable(raised.value)
    engine.dispose()


def test_sqlite_that_cannot_open_its_file_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "idp.sqlite3").mkdir()  # a directory where the database file should be
    engine = create_engine(f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    assert database_unreachable(error_of(engine, "SELECT 1"))


def test_the_sql_store_raises_store_unavailable_only_when_unreachable(engine: Engine) -> None:
    down = SqlStore(make_engine(closed_port_url()))
    for operation in (lambda: down.get("k"), lambda: down.put("k", "v", 5), down.ping):
        with pytest.raises(StoreUnavailable):
            operation()
    store = SqlStore(engine)
    store.put("k", "v", 5)
    assert store.get("k") == "v"
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE store_entries RENAME TO store_entries_away"))
    try:
        # A bug (the table is missing), not "unavailable". `get` runs on a raw pooled
        # connection, so it is the driver's own error.
        with pytest.raises(engine.dialect.loaded_dbapi.Error):
            store.get("k")
        with pytest.raises(DBAPIError):
            store.put("k", "v", 5)
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE store_entries_away RENAME TO store_entries"))


def test_the_redis_store_raises_store_unavailable_only_when_unreachable(
    backend: Backend,
) -> None:
    if backend.name != "postgres":
        pytest.skip("Redis comes with the PostgreSQL backend")
    down = RedisStore(f"redis://127.0.0.1:{free_port()}/0", "idp:", connect_timeout=0.5)
    for operation in (lambda: down.get("k"), lambda: down.incr("k", 5), down.ping):
        with pytest.raises(StoreUnavailable):
            operation()
    store = RedisStore(backend.redis_url, backend.redis_prefix)
    key = f"list-{secrets.token_hex(4)}"
    redis_client.Redis.from_url(backend.redis_url).rpush(backend.redis_prefix + key, "x")
    with pytest.raises(redis_client.ResponseError):  # WRONGTYPE: a bug, not an outage
        store.get(key)


def test_a_programming_error_is_still_a_500(backend: Backend, tmp_path: Path) -> None:
    """A table gone missing is a broken deployment: 500 server_error, not 503."""
    port = free_port()
    services = build_services(
        settings_for_tests(backend, tmp_path, f"http://127.0.0.1:{port}"), create_kek=True
    )
    upgrade(services.engine)
    live = start_server(services, port)
    try:
        tenant = Factory(services, live.url).tenant()
        key = create_api_key(services.uow(), OPERATOR, tenant, "bug", None).secret
        read = f"{live.url}/api/v1/tenants/{tenant.slug}/clients"
        headers = {"Authorization": f"Bearer {key}"}
        assert requests.get(read, headers=headers, timeout=10).status_code == 200
        with services.engine.begin() as connection:
            connection.execute(text("ALTER TABLE clients RENAME TO clients_away"))
        try:
            answer = requests.get(read, headers=headers, timeout=10)
        finally:
            with services.engine.begin() as connection:
                connection.execute(text("ALTER TABLE clients_away RENAME TO clients"))
        assert answer.status_code == 500
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert "Retry-After" not in answer.headers
    finally:
        live.stop()
        services.close()
