"""PostgreSQL connections killed, the database cut off, the database hanging (issue 8).

Real gunicorn gthread workers reach the PostgreSQL test backend (a schema of their own) through
a TCP relay the test starts (tests/support/tcp_proxy.py), so the test can take the database
away from this server alone: the shared PostgreSQL is never stopped. Connections carry an
application_name of their own, so pg_terminate_backend kills only theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from idp.models.db import normalise_url
from tests.support.backends import Backend, postgres_backend
from tests.support.browser import PASSWORD, Browser, code_request, hidden_fields, pkce_pair
from tests.support.faults import (
    PARALLEL,
    SCOPE,
    THREADS,
    WORKERS,
    Deployment,
    assert_no_errors,
    deployed,
    fault_settings,
    in_parallel,
)
from tests.support.ports import free_port
from tests.support.tcp_proxy import TcpProxy

# The fault settings' tenant and key caches last a second: past it, requests read the database.
CACHES_EXPIRE = 1.2


@dataclass(kw_only=True)
class DatabaseDeployment(Deployment):
    """The server reaches PostgreSQL through a relay; its connections carry their own name."""

    relay: TcpProxy
    admin_url: str
    application_name: str
    refresh_token: str = ""

    def login_page(self) -> requests.Response:
        """A new browser's authorization request, up to the login page (which reads the
        tenant, writes a transaction) and its submission with the right password (the user)."""
        browser = Browser(requests.Session(), self.issuer)
        started = browser.authorize(**code_request(self.client_id, pkce_pair()[1], scope=SCOPE))
        assert started.headers["Location"].startswith(f"{self.issuer}/login"), started.text
        page = browser.get(started.headers["Location"])
        if page.status_code != 200:
            return page
        form = hidden_fields(page.text) | {"email": self.email, "password": PASSWORD}
        return browser.http.post(f"{self.issuer}/login", data=form, allow_redirects=False)

    def refresh(self) -> requests.Response:
        """Rotate the deployment's refresh token (a database read and write)."""
        response = self.post("token", grant_type="refresh_token", refresh_token=self.refresh_token)
        if response.status_code == 200:
            self.refresh_token = response.json()["refresh_token"]
        return response

    def terminate_connections(self) -> int:
        """pg_terminate_backend every connection of this server (and of the test's services),
        waiting until each backend has exited; the number terminated."""
        admin = create_engine(normalise_url(self.admin_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                return len(
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                            " WHERE application_name = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": self.application_name},
                    ).all()
                )
        finally:
            admin.dispose()


def through(relay: TcpProxy, database_url: str, application_name: str) -> str:
    """The test backend's URL, pointed at the relay and naming its connections."""
    parts = urlsplit(database_url)
    netloc = f"{parts.username}@127.0.0.1:{relay.port}"
    query = f"{parts.query}&application_name={application_name}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@pytest.fixture(scope="module")
def postgres() -> Iterator[Backend]:
    yield from postgres_backend()


@pytest.fixture(scope="module")
def deployment(
    postgres: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseDeployment]:
    directory = tmp_path_factory.mktemp("faults-database")
    relay = TcpProxy("127.0.0.1", urlsplit(postgres.database_url).port or 5432)
    application_name = f"idp-faults-{directory.name}"
    port = free_port()
    settings = fault_settings(
        directory,
        f"http://127.0.0.1:{port}",
        through(relay, postgres.database_url, application_name),
        postgres.redis_url,
    )
    try:
        with deployed(
            DatabaseDeployment,
            directory,
            settings,
            port,
            relay=relay,
            admin_url=postgres.database_url,
            application_name=application_name,
        ) as up:
            _, query, verifier = up.sign_in()
            up.refresh_token = up.redeem(query["code"], verifier).json()["refresh_token"]
            yield up
            log = up.served.log_text()
    finally:
        relay.cut()
    assert_no_errors(log)


def failures(answers: list[requests.Response], ok: tuple[int, ...] = (200,)) -> list[Any]:
    return [
        (a.status_code, a.request.url, a.text[:200]) for a in answers if a.status_code not in ok
    ]


def test_connections_terminated_between_requests_fail_no_request(
    deployment: DatabaseDeployment,
) -> None:
    """Each round kills every connection of the server, then lets requests that cannot fall
    back on a cached copy be the first to use the pools again; then token requests, once the
    tenant and key caches have expired."""
    warm: list[Callable[[], requests.Response]] = [
        deployment.client_credentials,
        deployment.api_read,
        deployment.login_page,
    ]
    for _ in range(3):
        # Every worker's pool holds several connections, each then killed by the server.
        assert failures(in_parallel(warm * PARALLEL), ok=(200, 303)) == []
        assert deployment.terminate_connections() > 0
        answers = in_parallel([deployment.api_read] * 20 + [deployment.login_page] * 10)
        assert failures(answers, ok=(200, 303)) == []

        assert deployment.terminate_connections() > 0
        assert failures([deployment.refresh() for _ in range(5)]) == []

        assert deployment.terminate_connections() > 0
        time.sleep(CACHES_EXPIRE)  # so token requests, too, go back to the database
        assert failures(in_parallel([deployment.client_credentials] * 20)) == []


def test_database_cut_off_is_503_while_jwks_and_discovery_answer_from_memory(
    deployment: DatabaseDeployment,
) -> None:
    jwks = f"{deployment.issuer}/jwks.json"
    discovery = f"{deployment.issuer}/.well-known/openid-configuration"
    documents = [lambda: requests.get(jwks, timeout=5), lambda: requests.get(discovery, timeout=5)]
    before = in_parallel(documents * PARALLEL)  # every worker has read both
    assert failures(before) == []
    access_token = deployment.client_credentials().json()["access_token"]

    deployment.relay.cut()
    try:
        time.sleep(CACHES_EXPIRE)  # past the caches' lifetime: only the last good copy is left
        during = in_parallel(documents * PARALLEL)
        assert failures(during) == []
        assert {a.text for a in during} == {a.text for a in before}

        api = deployment.api_read()
        assert api.status_code == 503, api.text
        assert api.headers["Content-Type"] == "application/problem+json"
        assert int(api.headers["Retry-After"]) > 0

        login = deployment.login_page()
        assert login.status_code == 503, login.text
        assert login.headers["Content-Type"].startswith("text/html")
        assert login.headers["X-Request-Id"] in login.text
        assert int(login.headers["Retry-After"]) > 0

        for answer in (
            deployment.refresh(),
            requests.get(
                f"{deployment.issuer}/userinfo",
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=15,
            ),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "temporarily_unavailable"
            assert int(answer.headers["Retry-After"]) > 0
            assert "access_token" not in answer.text

        # The client credentials path needs no database: client, tenant and keys are cached,
        # and the client cache's validity is checked in Redis, which is up.
        assert deployment.client_credentials().status_code == 200

        started = time.monotonic()
        ready = requests.get(f"{deployment.served.url}/readyz", timeout=10)
        assert time.monotonic() - started < 3
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "unavailable", "store": "ok"}
    finally:
        deployment.relay.restore()

    # Back: the very first requests succeed, although every pooled connection died in the cut.
    answers = in_parallel(
        [deployment.api_read] * PARALLEL + [deployment.login_page] * WORKERS * THREADS
    )
    assert failures(answers, ok=(200, 303)) == []
    assert deployment.refresh().status_code == 200


def test_a_hanging_database_is_reported_by_readyz_in_time(deployment: DatabaseDeployment) -> None:
    assert requests.get(f"{deployment.served.url}/readyz", timeout=5).status_code == 200
    deployment.relay.hold()
    try:
        for _ in range(2):  # the second probe finds the first still hanging: no pile-up
            started = time.monotonic()
            ready = requests.get(f"{deployment.served.url}/readyz", timeout=10)
            assert time.monotonic() - started < 3.5
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unavailable"
    finally:
        deployment.relay.restore()
    deadline = time.monotonic() + 10
    while requests.get(f"{deployment.served.url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "readyz did not recover"
        time.sleep(0.2)
    assert failures(in_parallel([deployment.api_read] * PARALLEL)) == []
