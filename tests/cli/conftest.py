"""A scratch installation per backend, migrated once, shared by the CLI tests of a module."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support.backends import postgres_backend, sqlite_backend
from tests.support.cli import Installation


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def install(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installation]:
    directory = tmp_path_factory.mktemp(f"cli-{request.param}")
    if request.param == "sqlite":
        backends = iter([sqlite_backend(directory)])
    else:
        backends = postgres_backend()  # its own schema, dropped afterwards
    for backend in backends:
        installation = Installation.create(directory / "install", backend.database_url)
        result = installation.run("migrate")
        assert result.code == 0, result.stderr
        yield installation


@pytest.fixture(scope="module")
def tenant(install: Installation) -> str:
    """A tenant shared by the tests of a module (each CLI run costs a process start)."""
    slug = f"t-{secrets.token_hex(4)}"
    install.json("tenants", "create", "--slug", slug, "--name", "Test tenant")
    return slug
