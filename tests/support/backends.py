"""The two storage set-ups every test runs on: SQLite alone, and PostgreSQL + Redis.

PostgreSQL and Redis come from IDP_TEST_DATABASE_URL and IDP_TEST_REDIS_URL. Without them those
tests skip with one line saying so; with IDP_TEST_REQUIRE_SERVICES=1 (CI) they fail instead.
Each test session gets its own PostgreSQL schema and Redis key prefix, so runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from idp.models.db import normalise_url

SKIP_REASON = (
    "PostgreSQL/Redis tests skipped: set IDP_TEST_DATABASE_URL and IDP_TEST_REDIS_URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test, redis://127.0.0.1:6379/0)"
)


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str
    redis_prefix: str


def _unavailable(reason: str) -> None:
    if os.environ.get("IDP_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (IDP_TEST_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(reason)


def sqlite_backend(directory: Path) -> Backend:
    return Backend("sqlite", f"sqlite:///{directory / 'idp.sqlite3'}", "", "idp:")


def postgres_backend() -> Iterator[Backend]:
    database_url = os.environ.get("IDP_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("IDP_TEST_REDIS_URL", "")
    if not database_url or not redis_url:
        _unavailable(SKIP_REASON)
    schema = f"idp_test_{secrets.token_hex(6)}"
    admin = create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        redis.Redis.from_url(redis_url).ping()
    except Exception as error:  # any connection failure: the service is not there
        _unavailable(f"PostgreSQL/Redis unreachable: {error}")
    separator = "&" if "?" in database_url else "?"
    url = f"{database_url}{separator}options=-csearch_path%3D{schema}"
    prefix = f"idp-test-{schema}:"
    try:
        yield Backend("postgres", url, redis_url, prefix)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


def backend_for(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """The set-up a fixture parametrized with "sqlite" and "postgres" asks for."""
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path_factory.mktemp("sqlite"))
    else:
        yield from postgres_backend()


def postgres_with_redis(redis_url: str) -> Iterator[Backend]:
    """PostgreSQL (own schema) with a given Redis: a test's own, which it may stop or flush."""
    databases = postgres_backend()
    shared = next(databases)
    try:
        yield Backend("postgres", shared.database_url, redis_url, "idp:")
    finally:
        databases.close()
