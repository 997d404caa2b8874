"""The embedded SQLite engine is set up for several gunicorn workers sharing one file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from idp.models.db import make_engine, normalise_url


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'idp.sqlite3'}")
    with engine.connect() as connection:
        pragmas = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    # WAL: readers never wait for the writer; busy_timeout: writers queue, never "locked".
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}
    assert (tmp_path / "nested").is_dir()  # the directory of a new database is created
    engine.dispose()


def test_postgresql_urls_mean_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
