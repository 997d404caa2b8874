"""Schema revisions: upgrade with Alembic, and tell whether a database is behind (DESIGN §2).

Every worker checks the revision when it starts. That check reads the revision ids straight from
`migrations/versions/` instead of loading Alembic, which would add about 11 MB to each worker's
memory and 0.2 s to every `idp` command for a comparison of two strings
(tests/integration/test_migrations.py proves both readings agree). Alembic itself is loaded only
to migrate.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
VERSION_TABLE = "alembic_version"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the newest migration; the message says what to run."""


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; refuse one migrated by newer code."""
    from alembic import command

    _current_known_revision(engine)
    command.upgrade(alembic_config(engine), "head")


def ensure_current(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the database is exactly at the newest migration."""
    current = _current_known_revision(engine)
    head = head_revision()
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, not {head}"
        raise SchemaOutOfDate(f"the database is {state}: run `idp migrate` first")


@cache
def script_revisions() -> dict[str, str | None]:
    """Each migration's revision id and the one it follows, read from the version files."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _assigned(source, "revision")
        if revision:
            revisions[revision] = _assigned(source, "down_revision")
    return revisions


def head_revision() -> str:
    revisions = script_revisions()
    heads = set(revisions) - {parent for parent in revisions.values() if parent}
    if len(heads) != 1:
        raise SchemaOutOfDate(f"migrations/versions has {len(heads)} heads, expected one")
    return heads.pop()


def _assigned(source: str, name: str) -> str | None:
    match = re.search(rf"^{name}\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", source, re.MULTILINE)
    return match.group(1) if match else None


def _current_known_revision(engine: Engine) -> str | None:
    """The database's revision. One this code has no script for was written by a newer
    release (a rollback of the code): `idp migrate` cannot help, and Alembic would only say
    "Can't locate revision", so say what happened instead."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        current = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    if current is not None and current not in script_revisions():
        raise SchemaOutOfDate(
            f"the database is at revision {current}, which this release does not know "
            f"(newest here: {head_revision()}): run the release that migrated it"
        )
    return current
