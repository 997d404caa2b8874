"""Fresh, throw-away databases for one benchmark run: nothing of a previous run is reused.

The embedded default is a new SQLite file; the production set-up is a new PostgreSQL schema
(selected through `search_path` in the URL, as the test suite does) plus a Redis key prefix.
Both are removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from idp.models.db import normalise_url

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class BackendUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be reached; the message says which and why."""


@dataclass(frozen=True)
class Backend:
    """One set-up under test and the `IDP_*` variables that select it."""

    name: str
    title: str
    directory: Path
    env: dict[str, str] = field(default_factory=dict)


def _base_env(directory: Path) -> dict[str, str]:
    return {"IDP_KEYS__KEK_FILE": str(directory / "kek")}


@contextmanager
def sqlite_backend() -> Iterator[Backend]:
    with tempfile.TemporaryDirectory(prefix="idp-bench-sqlite-") as name:
        directory = Path(name)
        env = {
            **_base_env(directory),
            "IDP_DATABASE__URL": f"sqlite:///{directory / 'idp.sqlite3'}",
            "IDP_REDIS__URL": "",
        }
        yield Backend("sqlite", "SQLite (embedded default)", directory, env)


@contextmanager
def postgres_backend() -> Iterator[Backend]:
    """A new schema in `BENCH_DATABASE_URL` and a new key prefix in `BENCH_REDIS_URL`."""
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    schema = f"idp_bench_{secrets.token_hex(6)}"
    prefix = f"idp-bench-{schema}:"
    admin = create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
    cache = redis.Redis.from_url(redis_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        cache.ping()
    except Exception as error:  # any failure to connect means the set-up is not available
        admin.dispose()
        raise BackendUnavailable(f"PostgreSQL/Redis unreachable: {error}") from error
    separator = "&" if "?" in database_url else "?"
    try:
        with tempfile.TemporaryDirectory(prefix="idp-bench-postgres-") as name:
            directory = Path(name)
            env = {
                **_base_env(directory),
                "IDP_DATABASE__URL": f"{database_url}{separator}options=-csearch_path%3D{schema}",
                "IDP_REDIS__URL": redis_url,
                "IDP_REDIS__KEY_PREFIX": prefix,
            }
            yield Backend("postgres", "PostgreSQL + Redis (production)", directory, env)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        for key in cache.scan_iter(match=f"{prefix}*"):
            cache.delete(key)
        cache.close()
