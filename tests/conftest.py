"""Shared fixtures: every test using `server` or `services` runs on SQLite and PostgreSQL+Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from idp.settings import Settings
from tests.support.backends import Backend, backend_for, sqlite_backend
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.server import LiveServer, start_granian, start_server
from tests.support.upstream_idp import UpstreamIdp, start_upstream_idp

SERVER_KINDS = ("in-process", "granian")


def settings_for_tests(backend: Backend, directory: Path, public_url: str) -> Settings:
    """Fast settings for tests: cheap password hashing, short key publication delays."""
    return Settings().replace(
        server={"public_url": public_url},
        database={"url": backend.database_url},
        redis={"url": backend.redis_url, "key_prefix": backend.redis_prefix},
        keys={
            "kek_file": str(directory / "kek"),
            "cache_seconds": 1,
            "jwks_max_age_seconds": 1,
            "publish_delay_seconds": 2,
        },
        passwords={"time_cost": 1, "memory_kib": 1024},
        # Mail goes to the test's own directory, never to the repository's var/outbox.
        mail={"outbox_dir": str(directory / "outbox")},
        # Every test calls from 127.0.0.1; the API limits are tested on their own server
        # (tests/http/api/test_rate_limits.py), so they never throttle unrelated tests.
        rate_limits={"api_per_minute_per_key": 1_000_000, "api_per_minute_per_ip": 1_000_000},
    )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    yield from backend_for(request, tmp_path_factory)


# The whole HTTP suite (tests/http, the management API's included) also runs against granian,
# as `idp serve --server granian` starts it (issue 12); IDP_TEST_GRANIAN=all adds every other
# test that uses the live server (browser, CLI, integration).
GRANIAN_PACKAGE = "tests.http."


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" not in metafunc.fixturenames:
        return
    every = os.environ.get("IDP_TEST_GRANIAN") == "all"
    if every or metafunc.module.__name__.startswith(GRANIAN_PACKAGE):
        metafunc.parametrize("server_kind", SERVER_KINDS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def server_kind(request: pytest.FixtureRequest) -> str:
    """The HTTP server in front of the app: in-process (werkzeug, in a thread) or granian."""
    return str(getattr(request, "param", "in-process"))


@pytest.fixture(autouse=True)
def _in_process_only(request: pytest.FixtureRequest, server_kind: str) -> None:
    """A test that monkeypatches the app's settings or reads its in-memory counters cannot see
    into granian's worker processes; and with two workers, a setting changed through one is
    seen by the other only after its tenant cache's ttl (services/tenancy/tenants.py)."""
    if server_kind != "in-process" and request.node.get_closest_marker("in_process"):
        pytest.skip("needs the app in this process (marker in_process): in-process server only")


@pytest.fixture(scope="session")
def server(
    backend: Backend, server_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    port = free_port()
    directory = tmp_path_factory.mktemp(f"server-{backend.name}-{server_kind}")
    services = build_services(
        settings_for_tests(backend, directory, f"http://127.0.0.1:{port}"), create_kek=True
    )
    upgrade(services.engine)
    if server_kind == "granian":
        live = start_granian(services, port, directory)
    else:
        live = start_server(services, port)
    yield live
    live.stop()
    services.close()


@pytest.fixture(scope="session")
def services(server: LiveServer) -> Services:
    return server.services


@pytest.fixture
def make(server: LiveServer) -> Factory:
    return Factory(server.services, server.url)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="session")
def upstream_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamIdp]:
    """A second instance of this IdP on its own SQLite database, whatever the backend: the
    upstream OpenID provider (and "Google") of federation tests (tests/support/upstream_idp.py)."""
    directory = tmp_path_factory.mktemp("upstream-idp")
    port = free_port()
    services = build_services(
        settings_for_tests(sqlite_backend(directory), directory, f"http://127.0.0.1:{port}"),
        create_kek=True,
    )
    upgrade(services.engine)
    upstream = start_upstream_idp(services, port)
    yield upstream
    upstream.server.stop()
    services.close()
