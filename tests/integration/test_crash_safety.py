"""Shutdown and crashes of real gunicorn (issue 8, Build 4; DESIGN §9), on SQLite and on
PostgreSQL + Redis: SIGTERM lets in-flight requests finish; a worker SIGKILLed mid-refresh
leaves the refresh token family unforked and the retry answered as RFC 9700 §4.14 and our grace
rules say; a back-channel logout whose sender was SIGKILLed mid-delivery is sent by a worker
that never queued anything itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from joserfc import jws
from sqlalchemy import select

from idp.crypto.secrets import digest
from idp.models.refresh_tokens import RefreshToken
from idp.services.container import Services, build_services
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from idp.settings import Settings
from tests.support.backends import Backend, backend_for
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    Browser,
    code_request,
    hidden_fields,
    pkce_pair,
    signed_in_tokens,
)
from tests.support.cli import Installation
from tests.support.factories import Factory
from tests.support.gunicorn import Gunicorn, kill, start
from tests.support.ports import free_port

GRACEFUL_TIMEOUT = 20  # gunicorn.conf.py
SIGN_INS_IN_FLIGHT = 12
KILL_ROUNDS = 12


@dataclass(frozen=True)
class Site:
    """An installation (migrated), its URL, and services of this process over its database."""

    install: Installation
    port: int
    url: str
    services: Services
    make: Factory


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    yield from backend_for(request, tmp_path_factory)


@pytest.fixture(scope="module")
def site(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    install = Installation.create(
        tmp_path_factory.mktemp(f"crash-{backend.name}"),
        backend.database_url,
        IDP_SERVER__PUBLIC_URL=url,
        IDP_REDIS__URL=backend.redis_url,
        IDP_REDIS__KEY_PREFIX=backend.redis_prefix,
        # A retry after the worker was replaced (a second or two) is well within the window.
        IDP_TOKENS__REFRESH_TOKEN_REUSE_GRACE_SECONDS="60",
        # Back in a second when a job's holder died, not a minute.
        IDP_QUEUE__POLL_SECONDS="1",
    )
    migrated = install.run("migrate")
    assert migrated.code == 0, migrated.stderr
    # Real password hashing (the defaults), so a sign-in takes as long as in production.
    settings = Settings().replace(
        server={"public_url": url},
        database={"url": backend.database_url},
        redis={"url": backend.redis_url, "key_prefix": backend.redis_prefix},
        keys={"kek_file": str(install.directory / "keys" / "kek")},
    )
    services = build_services(settings)
    yield Site(install, port, url, services, Factory(services, url))
    services.engine.dispose()


@pytest.fixture
def tenant(site: Site) -> TenantView:
    return site.make.tenant()


@pytest.fixture
def person(site: Site, tenant: TenantView) -> str:
    return site.make.user(tenant, password=PASSWORD).email


def code_client(site: Site, tenant: TenantView, **columns: Any) -> IssuedClient:
    return site.make.client(
        tenant,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "offline_access"),
        skip_consent=True,
        **columns,
    )


def run(site: Site, workers: int, **variables: str) -> Iterator[Gunicorn]:
    server = start(
        site.install,
        site.port,
        workers=workers,
        access_log=False,
        IDP_PASSWORDS__TIME_COST="3",
        IDP_PASSWORDS__MEMORY_KIB="65536",
        **variables,
    )
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_tail()


@pytest.fixture
def one_worker(site: Site) -> Iterator[Gunicorn]:
    yield from run(site, 1)


@pytest.fixture
def two_workers(site: Site) -> Iterator[Gunicorn]:
    yield from run(site, 2)


# SIGTERM -------------------------------------------------------------------------------------


def test_sigterm_lets_every_sign_in_in_flight_finish(site, tenant, person, two_workers):
    issuer = f"{site.url}/t/{tenant.slug}"
    client = code_client(site, tenant)
    forms: list[tuple[Browser, dict[str, str]]] = []
    for _ in range(SIGN_INS_IN_FLIGHT):
        browser = Browser(requests.Session(), issuer)
        _, challenge = pkce_pair()
        login = browser.authorize(
            **code_request(client.client.client_id, challenge, scope="openid offline_access")
        )
        page = browser.get(login.headers["Location"])
        assert page.status_code == 200, page.text
        forms.append((browser, hidden_fields(page.text) | {"email": person, "password": PASSWORD}))

    answers: list[tuple[float, int, str]] = []

    def sign_in(browser: Browser, form: dict[str, str]) -> None:
        answer = browser.http.post(f"{issuer}/login", data=form, allow_redirects=False, timeout=60)
        answers.append((time.monotonic(), answer.status_code, answer.headers.get("Location", "")))

    threads = [threading.Thread(target=sign_in, args=pair) for pair in forms]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every connection accepted; argon2id keeps most requests busy for longer
    terminated_at = time.monotonic()
    two_workers.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(GRACEFUL_TIMEOUT + 10)
    code = two_workers.process.wait(GRACEFUL_TIMEOUT + 10)
    stopped_in = time.monotonic() - terminated_at

    assert code == 0
    assert stopped_in < GRACEFUL_TIMEOUT
    assert len(answers) == SIGN_INS_IN_FLIGHT  # none was cut off
    # The normal answer: signed in, and (a first-party client) on to it with a code.
    assert {(status, location.split("?")[0]) for _, status, location in answers} == {
        (303, REDIRECT)
    }
    assert all("code=" in location for _, _, location in answers)
    finished_after = sum(1 for at, _, _ in answers if at > terminated_at)
    assert finished_after >= 2, "too few requests were still in flight at SIGTERM"


# SIGKILL mid-refresh ---------------------------------------------------------------------------


def refresh(issuer: str, client: IssuedClient, token: str) -> requests.Response:
    with requests.Session() as fresh:  # a new connection: nothing kept alive across a kill
        return fresh.post(
            f"{issuer}/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(client.client.client_id, client.secret or ""),
            headers={"Connection": "close"},
            timeout=30,
        )


def first_refresh_token(issuer: str, client: IssuedClient, email: str) -> str:
    browser = Browser(requests.Session(), issuer)
    tokens = signed_in_tokens(
        browser, client.client.client_id, client.secret or "", email, scope="openid offline_access"
    )
    return str(tokens["refresh_token"])


@dataclass(frozen=True)
class Row:
    token_digest: str
    used_at: Any
    successor_digest: str | None
    revoked_at: Any


def family_rows(services: Services, tenant: TenantView, token: str) -> list[Row]:
    with services.uow() as uow:
        family = uow.session.scalar(
            select(RefreshToken.family_id).where(
                RefreshToken.tenant_id == tenant.id, RefreshToken.token_digest == digest(token)
            )
        )
        found = uow.session.execute(
            select(
                RefreshToken.token_digest,
                RefreshToken.used_at,
                RefreshToken.successor_digest,
                RefreshToken.revoked_at,
            ).where(RefreshToken.family_id == family)
        )
        return [Row(*columns) for columns in found]


def assert_one_unforked_chain(services: Services, tenant: TenantView, live_token: str) -> None:
    """Every token of the family but one is spent into exactly one successor that exists, no
    two share a successor, none is revoked, and the one unspent is `live_token`."""
    rows = family_rows(services, tenant, live_token)
    digests = {row.token_digest for row in rows}
    live = [row for row in rows if row.used_at is None]
    spent = [row for row in rows if row.used_at is not None]
    assert [row.token_digest for row in live] == [digest(live_token)]
    assert all(row.revoked_at is None for row in rows)
    successors = [row.successor_digest for row in spent]
    assert len(set(successors)) == len(successors) and set(successors) <= digests
    assert len(rows) == len(spent) + 1


def test_a_worker_killed_mid_refresh_never_forks_the_family(site, tenant, person, one_worker):
    issuer = f"{site.url}/t/{tenant.slug}"
    client = code_client(site, tenant)
    token = first_refresh_token(issuer, client, person)

    started = time.monotonic()
    for _ in range(3):  # how long one refresh takes here, to spread the kills over it
        answer = refresh(issuer, client, token)
        assert answer.status_code == 200, answer.text
        token = answer.json()["refresh_token"]
    duration = (time.monotonic() - started) / 3

    interrupted = answered = 0
    for round_number in range(KILL_ROUNDS):
        delay = duration * 1.5 * round_number / (KILL_ROUNDS - 1)
        (worker,) = one_worker.workers()
        outcome: list[requests.Response | Exception] = []

        def attempt(
            presented: str = token, outcome: list[requests.Response | Exception] = outcome
        ) -> None:
            try:
                outcome.append(refresh(issuer, client, presented))
            except requests.RequestException as error:
                outcome.append(error)

        thread = threading.Thread(target=attempt)
        thread.start()
        time.sleep(delay)
        kill(worker)
        thread.join(40)
        one_worker.wait_until_serving(without={worker})

        retry = refresh(issuer, client, token)
        # Whatever the kill interrupted, the retry of the same token succeeds: the rotation
        # either never committed (a fresh one now) or did, with its response kept for retries.
        assert retry.status_code == 200, (round_number, retry.text)
        (first,) = outcome
        if isinstance(first, requests.Response):
            answered += 1
            assert first.status_code == 200, first.text
            # The first answer got through: the retry is the same successor, not a fork.
            assert retry.json()["refresh_token"] == first.json()["refresh_token"]
        else:
            interrupted += 1
        token = retry.json()["refresh_token"]
        assert_one_unforked_chain(site.services, tenant, token)

    assert interrupted >= 1, "no kill landed while a refresh was in flight"
    final = refresh(issuer, client, token)
    assert final.status_code == 200, final.text  # the chain goes on


# Back-channel logout survives its sender --------------------------------------------------------


class HangsOnce:
    """A relying party whose first back-channel request never gets an answer (its connection is
    held open until the sender dies), and whose later ones get 200."""

    def __init__(self) -> None:
        self.arrived: list[dict[str, list[str]]] = []
        self.first = threading.Event()
        self.release = threading.Event()
        self.second = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived.append(parse_qs(body.decode()))
                if len(receiver.arrived) == 1:
                    receiver.first.set()
                    receiver.release.wait(30)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.second.set()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on what arrived."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/logout"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


SENDER = """
import sys, time
from idp.services.oauth_clients.clients import lookup_client
from idp.services.container import build_services
from idp.services.signin.session_clients import LogoutNotice
from idp.settings import load_settings

services = build_services(load_settings())
tenant = services.tenant_cache.get(sys.argv[1])
client = lookup_client(services.client_lookup, tenant.id, sys.argv[2])
issuer = f"{services.settings.server.public_url}/t/{tenant.slug}"
services.backchannel.notify(issuer, tenant, [LogoutNotice(client, sys.argv[3], sys.argv[4])])
time.sleep(600)
"""


def test_a_logout_whose_sender_was_killed_mid_delivery_is_sent_by_a_gunicorn_worker(
    site, tenant, one_worker, tmp_path: Path
):
    receiver = HangsOnce()
    try:
        client = code_client(site, tenant, backchannel_logout_uri=receiver.url)
        sender = subprocess.Popen(
            [sys.executable, "-c", SENDER, tenant.slug, client.client.client_id, "sub-1", "sid-1"],
            cwd=site.install.directory,
            env={**site.install.environ, "IDP_QUEUE__LEASE_SECONDS": "2"},
        )
        try:
            assert receiver.first.wait(30), "the sender never tried the delivery"
            kill(sender.pid)  # mid-delivery: it holds the job's lease
        finally:
            sender.kill()
            sender.wait()
        # The gunicorn worker queued nothing; its consumers (started by post_worker_init) take
        # the job once the dead sender's lease has run out.
        assert receiver.second.wait(30), "nobody delivered the job the dead sender held"
    finally:
        receiver.stop()
    first, second = receiver.arrived
    (token,) = second["logout_token"]
    compact = jws.extract_compact(token.encode())
    assert compact.headers()["typ"] == "logout+jwt"
    assert first["logout_token"] == second["logout_token"]  # the same event, resent
    time.sleep(1.5)
    assert len(receiver.arrived) == 2  # delivered: nothing more is sent
