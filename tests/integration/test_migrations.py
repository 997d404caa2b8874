"""Migrations (DESIGN §2): `idp migrate` upgrades, the server refuses a database that is behind,
and the Alembic revisions build exactly the schema the models describe."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from idp import create_app
from idp.models import Base
from idp.models.db import make_engine
from idp.models.schema import (
    SchemaOutOfDate,
    alembic_config,
    ensure_current,
    head_revision,
    script_revisions,
    upgrade,
)
from idp.services.container import build_services
from idp.settings import Settings
from tests.support.backends import postgres_backend, sqlite_backend
from tests.support.cli import Installation

NOT_MIGRATED = "error: the database is not migrated: run `idp migrate` first\n"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for each test: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path).database_url
    else:
        for backend in postgres_backend():
            yield backend.database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def install(tmp_path: Path, database_url: str) -> Installation:
    return Installation.create(tmp_path / "install", database_url)


def test_create_app_refuses_an_unmigrated_database(tmp_path: Path, database_url: str) -> None:
    settings = Settings().replace(
        database={"url": database_url}, keys={"kek_file": str(tmp_path / "kek")}
    )
    services = build_services(settings, create_kek=True)
    try:
        with pytest.raises(SchemaOutOfDate, match="run `idp migrate` first"):
            create_app(services=services)
    finally:
        services.engine.dispose()


def test_serve_refuses_an_unmigrated_database_in_one_line(install: Installation) -> None:
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    result = install.run("serve", IDP_KEK=kek)
    assert (result.code, result.stdout, result.stderr) == (1, "", NOT_MIGRATED)


def test_serve_without_a_kek_says_to_migrate(install: Installation) -> None:
    result = install.run("serve")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: no KEK at ")
    assert "run `idp migrate`" in result.stderr


def test_migrate_creates_the_kek_and_is_idempotent(install: Installation, engine: Engine) -> None:
    first = install.run("migrate")
    assert first.code == 0, first.stderr
    kek = install.directory / "keys" / "kek"
    assert kek.stat().st_mode & 0o777 == 0o600
    ensure_current(engine)
    kek_text = kek.read_text()

    second = install.run("migrate")
    assert second.code == 0, second.stderr
    assert kek.read_text() == kek_text  # an existing KEK is never replaced
    ensure_current(engine)


def test_data_commands_refuse_an_unmigrated_database(install: Installation) -> None:
    install.run("migrate", IDP_DATABASE__URL=f"sqlite:///{install.directory / 'other.db'}")
    result = install.run("tenants", "list", "--json")
    assert (result.code, result.stdout, result.stderr) == (1, "", NOT_MIGRATED)


def test_models_and_migrations_agree(engine: Engine) -> None:
    """Autogenerate against a freshly migrated database finds nothing to add, drop or alter."""
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def stamp(engine: Engine, revision: str) -> None:
    """Pretend a newer release migrated this database (what a code rollback leaves behind)."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_database_from_a_newer_release_is_refused(engine: Engine) -> None:
    upgrade(engine)
    stamp(engine, "9999_from_the_future")
    with pytest.raises(SchemaOutOfDate, match="9999_from_the_future, which this release does not"):
        ensure_current(engine)
    with pytest.raises(SchemaOutOfDate, match="run the release that migrated it"):
        upgrade(engine)


def test_migrate_on_a_database_from_a_newer_release_is_one_line(
    install: Installation, engine: Engine
) -> None:
    upgrade(engine)
    stamp(engine, "9999_from_the_future")
    result = install.run("migrate")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "9999_from_the_future" in result.stderr


def test_the_light_revision_reading_agrees_with_alembic(engine: Engine) -> None:
    """Workers check the revision without loading Alembic; both must read the same history."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    assert script_revisions() == {s.revision: s.down_revision for s in scripts.walk_revisions()}
    assert head_revision() == scripts.get_current_head()
