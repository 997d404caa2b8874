"""Fixtures for integration tests: a PostgreSQL + Redis backend shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backends import Backend, postgres_backend


@pytest.fixture(scope="session")
def postgres_redis() -> Iterator[Backend]:
    """PostgreSQL (own schema) and Redis (own key prefix); skips with one line when absent."""
    yield from postgres_backend()
