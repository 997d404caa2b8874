"""Request rates a stranger can reach, over real HTTP (config.toml [rate_limits]): the token
endpoint's (`token_per_minute`, whichever path answers: idp/http/oauth/fast_path.py or Flask),
open dynamic client registration's (`open_registrations_per_ip`) and the sign-ins one address
may start (`sign_ins_started_per_minute`). Per tenant and client address, refused in RFC 6749
form (429 and `Retry-After` where the client is the caller), never felt by another tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.models.schema import upgrade
from idp.services.container import build_services
from idp.services.oauth_clients import initial_access_tokens as iat_service
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from tests.conftest import settings_for_tests
from tests.support.backends import Backend
from tests.support.browser import REDIRECT, code_request, hidden_fields, pkce_pair
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.server import LiveServer, served_on_own_redis, start_granian, start_server

LIMIT = 5
REGISTRATIONS = 3
STARTS = 4
WINDOW = 60
# A request with `Origin` goes through Flask (CORS is Flask's); one without, the fast path.
THROUGH_FLASK = {"Origin": "https://nobody.example.com"}


def _start(backend: Backend, directory: Path, server_kind: str = "in-process") -> LiveServer:
    """A server with a limit small enough to reach: every request is written to the store."""
    port = free_port()
    settings = settings_for_tests(backend, directory, f"http://127.0.0.1:{port}")
    limits = {
        "token_per_minute": LIMIT,
        "open_registrations_per_ip": REGISTRATIONS,
        "sign_ins_started_per_minute": STARTS,
    }
    services = build_services(settings.replace(rate_limits=limits), create_kek=True)
    upgrade(services.engine)
    if server_kind == "granian":
        return start_granian(services, port, directory)
    return start_server(services, port)


@pytest.fixture(scope="module")
def server(
    backend: Backend, server_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = _start(backend, tmp_path_factory.mktemp(f"token-limit-{backend.name}"), server_kind)
    yield live
    live.stop()
    live.services.close()


@pytest.fixture(autouse=True)
def one_window() -> None:
    """Counts start again with each minute: a test that needs LIMIT + 1 requests in one window
    lets a nearly finished window end first (a few seconds at most)."""
    left = WINDOW - time.time() % WINDOW
    if left < 10:
        time.sleep(left + 0.1)


def _token(
    http: requests.Session, issued: IssuedClient, tenant_issuer: str, **headers: str
) -> requests.Response:
    return http.post(
        f"{tenant_issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
        headers=headers,
    )


def test_past_the_limit_the_address_waits_on_both_paths(http, make):
    tenant = make.tenant()
    issued, issuer = make.client(tenant), make.issuer(tenant)
    answers = [_token(http, issued, issuer) for _ in range(LIMIT - 2)]
    answers += [_token(http, issued, issuer, **THROUGH_FLASK) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [200] * LIMIT

    for refused in (
        _token(http, issued, issuer),
        _token(http, issued, issuer, **THROUGH_FLASK),
    ):
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW
        assert refused.headers["Content-Type"] == "application/json"
        assert refused.headers["Cache-Control"] == "no-store"
        assert refused.json() == {
            "error": "invalid_request",
            "error_description": "Too many token requests from this address; retry later.",
        }


def test_refused_and_failed_requests_count_too(http, make):
    """A stranger's junk is limited like a client's tokens: each request counts, whatever its
    answer."""
    tenant = make.tenant()
    issued, issuer = make.client(tenant), make.issuer(tenant)
    junk = [http.post(f"{issuer}/token", data={"grant_type": "password"}) for _ in range(LIMIT - 1)]
    assert {answer.status_code for answer in junk} <= {400, 401}
    assert _token(http, issued, issuer).status_code == 200
    assert _token(http, issued, issuer).status_code == 429


def test_another_tenant_from_the_same_address_is_not_limited(http, make):
    limited, other = make.tenant(), make.tenant()
    issued, issuer = make.client(limited), make.issuer(limited)
    for _ in range(LIMIT):
        _token(http, issued, issuer)
    assert _token(http, issued, issuer).status_code == 429

    elsewhere = make.client(other)
    assert _token(http, elsewhere, make.issuer(other)).status_code == 200


def _register(http: requests.Session, make: Factory, tenant: TenantView, **metadata: object):
    body = {"client_name": "Robot", "grant_types": ["client_credentials"]} | metadata
    return http.post(f"{make.issuer(tenant)}/register", json=body)


def test_open_registration_is_limited_per_address_and_tenant(http, make):
    """Where no initial access token is needed, each attempt counts, valid or not."""
    tenant = make.registration_tenant(requires_token=False)
    other = make.registration_tenant(requires_token=False)
    assert _register(http, make, tenant).status_code == 201
    assert _register(http, make, tenant, grant_types=["password"]).status_code == 400
    assert _register(http, make, tenant).status_code == 201

    refused = _register(http, make, tenant)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "Too many registrations from this address; retry later.",
    }
    assert _register(http, make, other).status_code == 201, "another tenant is not limited"


def test_registrations_with_an_initial_access_token_are_not_counted(http, make):
    tenant = make.registration_tenant()
    token = iat_service.create_initial_access_token(make.services.uow(), tenant, "ci").secret
    answers = [
        http.post(
            f"{make.issuer(tenant)}/register",
            json={"client_name": "Robot", "grant_types": ["client_credentials"]},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        for _ in range(REGISTRATIONS + 1)
    ]
    assert answers == [201] * (REGISTRATIONS + 1)


def test_an_address_may_start_only_so_many_sign_ins(http, make):
    """Each sign-in sent to the login page is parked in the store until the person is done: past
    the limit the client gets `temporarily_unavailable` back (RFC 6749 §4.1.2.1), nothing
    parked; the pages of sign-ins already started, and other tenants, go on."""
    tenant, other = make.tenant(), make.tenant()
    started = []
    for _ in range(STARTS):
        sent = _authorize(http, make, tenant)
        assert sent.status_code == 303 and "/login?txn=" in sent.headers["Location"]
        started.append(sent.headers["Location"])

    refused = _authorize(http, make, tenant)
    assert refused.status_code in (302, 303)
    returned = parse_qs(urlsplit(refused.headers["Location"]).query)
    assert refused.headers["Location"].startswith(REDIRECT)
    assert returned["error"] == ["temporarily_unavailable"]
    assert returned["state"] == ["st-123"]

    assert http.get(started[0]).status_code == 200, "a sign-in already started goes on"
    assert _authorize(http, make, other).status_code == 303


def test_passkey_challenges_and_the_account_sign_in_count_with_them(http, make):
    """What else parks state for a stranger counts against the same allowance: a passkey
    challenge (one sign-in page can ask for many) and the account page's own sign-in."""
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    login = http.get(_authorize(http, make, tenant).headers["Location"])
    fields = hidden_fields(login.text)
    ask = {"csrf_token": fields["csrf_token"], "purpose": "sign_in", "txn": fields["txn"]}
    answers = [http.post(f"{issuer}/passkeys/options", data=ask) for _ in range(STARTS)]
    assert [answer.status_code for answer in answers] == [200] * (STARTS - 1) + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= WINDOW

    account = requests.get(f"{issuer}/account", allow_redirects=False)
    assert account.status_code == 429
    assert 1 <= int(account.headers["Retry-After"]) <= WINDOW
    assert "text/html" in account.headers["Content-Type"]
    assert "Too many attempts" in account.text


def _authorize(http: requests.Session, make: Factory, tenant: TenantView) -> requests.Response:
    client = make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email", "roles"),
    )
    _, challenge = pkce_pair()
    return http.get(
        f"{make.issuer(tenant)}/authorize",
        params=code_request(client.client.client_id, challenge),
        allow_redirects=False,
    )


@pytest.fixture(scope="module")
def redis_backed(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """PostgreSQL and a Redis of this module's own, which a test stops."""
    directory = tmp_path_factory.mktemp("token-limit-store-loss")
    with served_on_own_redis(redis_server.url, directory, _start) as live:
        yield live


@pytest.mark.redis
def test_a_count_the_store_cannot_take_is_a_503_never_a_token(redis_backed, redis_server):
    make = Factory(redis_backed.services, redis_backed.url)
    tenant = make.tenant()
    issued, issuer = make.client(tenant), make.issuer(tenant)
    redis_server.stop()
    try:
        # Through Flask, the CORS headers' client lookup fails too: it must leave the 503 be.
        for headers in ({}, THROUGH_FLASK):
            refused = _token(requests.Session(), issued, issuer, **headers)
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) > 0
            assert refused.json()["error"] == "temporarily_unavailable"
    finally:
        redis_server.start()
    assert _token(requests.Session(), issued, issuer).status_code == 200
