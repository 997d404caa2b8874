"""Account lockout (issue 10 §5): escalating waits per account, a limit per client IP, the same
for addresses without an account, an admin's unlock, audit, and 503 when the store is away.

The server here has small limits of its own: a wait after 3 failures, 60 s doubling up to
240 s, 12 failures per address. Time passes by ending a wait in the store (the `:until` key
the lockout reads), not by sleeping for minutes. Every test takes a fresh tenant: the address
limit counts per tenant, and every request comes from 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from idp.services.management.api_keys import OPERATOR, create_api_key
from idp.services.signin.lockout import account_key
from idp.services.tenancy.tenants import TenantView
from tests.conftest import settings_for_tests
from tests.http.api.conftest import Api
from tests.support.backends import Backend
from tests.support.browser import PASSWORD, Browser, hidden_fields
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.server import LiveServer, served_on_own_redis, start_server

THRESHOLD = 3
BASE = 60
CAP = 240
PER_IP = 12
LOCKOUT = "/tenants/{slug}/users/{user_id}/lockout"
UNLOCK = "/tenants/{slug}/users/{user_id}/unlock"
EVENTS = "/tenants/{slug}/audit-events"
TOO_MANY = "Too many attempts. Try again in"


def _start(backend: Backend, directory: Path) -> LiveServer:
    port = free_port()
    settings = settings_for_tests(backend, directory, f"http://127.0.0.1:{port}")
    rate_limits = {
        "api_per_minute_per_key": 1_000_000,
        "api_per_minute_per_ip": 1_000_000,
        "login_failures_per_account": THRESHOLD,
        "login_failures_per_ip": PER_IP,
        "lockout_base_seconds": BASE,
        "lockout_max_seconds": CAP,
        "lockout_memory_seconds": 3600,
    }
    services = build_services(settings.replace(rate_limits=rate_limits), create_kek=True)
    upgrade(services.engine)
    return start_server(services, port)


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server, on each backend, with the small limits above."""
    live = _start(backend, tmp_path_factory.mktemp(f"lockout-{backend.name}"))
    yield live
    live.stop()
    live.services.close()


@pytest.fixture(scope="module")
def services(server: LiveServer) -> Services:
    return server.services


@pytest.fixture
def tenant(make: Factory) -> TenantView:
    return make.tenant()


@pytest.fixture
def browser(make: Factory, http: requests.Session, tenant: TenantView) -> Browser:
    return Browser(http, make.issuer(tenant))


@pytest.fixture
def admin(server: LiveServer, services: Services, tenant: TenantView) -> Api:
    spec = requests.get(f"{server.url}/api/v1/openapi.json").json()
    key = create_api_key(services.uow(), OPERATOR, tenant, "admin", None).secret
    return Api(server.url, key, spec)


def attempt(browser: Browser, email: str, password: str, **headers: str) -> requests.Response:
    form = hidden_fields(browser.get(f"{browser.issuer}/login").text)
    return browser.http.post(
        f"{browser.issuer}/login",
        data={**form, "email": email, "password": password},
        headers=headers,
        allow_redirects=False,
    )


def fail(browser: Browser, email: str, times: int) -> None:
    for _ in range(times):
        wrong = browser.sign_in(f"{browser.issuer}/login", email, "not the password")
        assert wrong.status_code == 401, wrong.text


def end_wait(services: Services, tenant: TenantView, email: str) -> None:
    """As if the wait had run out: its `:until` key expires in the store."""
    services.store.delete(f"{account_key(tenant.id, email)}:until")


def refused_for(response: requests.Response) -> int:
    """The wait of a 429, checked for its form: Retry-After in seconds and the page's words."""
    assert response.status_code == 429, response.text
    assert TOO_MANY in response.text
    return int(response.headers["Retry-After"])


def test_the_wait_refuses_the_right_password_doubles_and_is_capped(browser, make, tenant, services):
    person = make.user(tenant, password=PASSWORD)
    login = f"{browser.issuer}/login"
    fail(browser, person.email, THRESHOLD)
    waits = []
    for expected in (BASE, 2 * BASE, 4 * BASE, CAP):
        waits.append(refused_for(browser.sign_in(login, person.email, PASSWORD)))
        assert expected - 5 <= waits[-1] <= expected, (waits, expected)
        end_wait(services, tenant, person.email)
        fail(browser, person.email, 1)  # the first failure after a wait doubles it
    assert CAP == 4 * BASE  # the fourth wait would be 8 * BASE without the cap
    locked = browser.sign_in(login, person.email, PASSWORD)
    assert f"Try again in {CAP // 60} minutes." in locked.text
    end_wait(services, tenant, person.email)
    assert browser.sign_in(login, person.email, PASSWORD).status_code == 200  # signed in


def test_the_wait_is_shown_in_french(browser, make, tenant):
    person = make.user(tenant, password=PASSWORD)
    fail(browser, person.email, THRESHOLD)
    locked = attempt(browser, person.email, PASSWORD, **{"Accept-Language": "fr"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) <= BASE
    assert "Trop de tentatives. Réessayez dans 1 minute." in locked.text


def test_an_address_without_an_account_waits_exactly_the_same(browser, make, tenant):
    person = make.user(tenant, password=PASSWORD)
    login = f"{browser.issuer}/login"
    answers = {}
    for email in (person.email, "nobody@example.com"):
        statuses = [browser.sign_in(login, email, "not the password") for _ in range(THRESHOLD)]
        locked = browser.sign_in(login, email, PASSWORD)
        assert BASE - 5 <= refused_for(locked) <= BASE
        page = locked.text.replace(email, "EMAIL")
        answers[email] = ([response.status_code for response in statuses], page.split("csrf")[0])
    assert answers[person.email] == answers["nobody@example.com"]
    assert answers[person.email][0] == [401] * THRESHOLD


def test_a_locked_account_does_not_block_another_from_the_same_address(browser, make, tenant):
    person, other = make.user(tenant, password=PASSWORD), make.user(tenant, password=PASSWORD)
    login = f"{browser.issuer}/login"
    fail(browser, person.email, THRESHOLD)
    assert browser.sign_in(login, person.email, PASSWORD).status_code == 429
    assert browser.sign_in(login, other.email, PASSWORD).status_code == 200


def test_the_address_limit_is_independent_of_accounts(browser, make, tenant):
    """Guessing one password for many accounts: each account fails once, the address is
    stopped, even for an account never tried with the right password."""
    person = make.user(tenant, password=PASSWORD)
    login = f"{browser.issuer}/login"
    for number in range(PER_IP):
        assert browser.sign_in(login, f"user{number}@example.com", "Winter2026!").status_code == 401
    assert refused_for(browser.sign_in(login, person.email, PASSWORD)) > 0


def test_a_success_clears_the_account_count_but_not_the_address_count(browser, make, tenant, admin):
    person = make.user(tenant, password=PASSWORD)
    login = f"{browser.issuer}/login"
    path = LOCKOUT.format(slug=tenant.slug, user_id=person.subject)
    fail(browser, person.email, THRESHOLD - 1)
    assert admin.get(path, LOCKOUT).json()["failures"] == THRESHOLD - 1
    assert browser.sign_in(login, person.email, PASSWORD).status_code == 200
    cleared = {"id": person.subject, "failures": 0, "locked": False, "locked_until": None}
    assert admin.get(path, LOCKOUT).json() == cleared
    fail(browser, person.email, THRESHOLD - 1)  # counted from zero again: still no wait
    assert browser.sign_in(login, person.email, PASSWORD).status_code == 200
    # The address kept all 2 * (THRESHOLD - 1) failures: the rest of its budget, on other
    # addresses, blocks it.
    for number in range(PER_IP - 2 * (THRESHOLD - 1)):
        fail(browser, f"guess{number}@example.com", 1)
    assert refused_for(browser.sign_in(login, person.email, PASSWORD)) > 0


def test_an_admin_unlocks_at_once_and_the_lock_and_unlock_are_audited(
    browser, make, tenant, admin, services
):
    person = make.user(tenant, password=PASSWORD)
    login = f"{browser.issuer}/login"
    fail(browser, person.email, THRESHOLD)
    path = LOCKOUT.format(slug=tenant.slug, user_id=person.subject)
    state = admin.get(path, LOCKOUT).json()
    assert (state["failures"], state["locked"]) == (THRESHOLD, True)
    assert state["locked_until"].endswith("Z")
    assert browser.sign_in(login, person.email, PASSWORD).status_code == 429

    unlock = UNLOCK.format(slug=tenant.slug, user_id=person.subject)
    assert admin.post(unlock, UNLOCK).status_code == 204
    assert admin.get(path, LOCKOUT).json()["locked"] is False
    assert browser.sign_in(login, person.email, PASSWORD).status_code == 200

    events = admin.get(EVENTS.format(slug=tenant.slug), EVENTS).json()["items"]
    [locked] = [event for event in events if event["action"] == "user.locked"]
    assert (locked["target_id"], locked["client_ip"]) == (person.subject, "127.0.0.1")
    assert locked["details"] == {"method": "password", "failures": THRESHOLD, "wait_seconds": BASE}
    [unlocked] = [event for event in events if event["action"] == "user.unlocked"]
    assert unlocked["actor"].startswith("api-key:")
    assert (unlocked["target_id"], unlocked["outcome"]) == (person.subject, "success")
    lifted = unlocked["details"]["lockout"]
    assert (lifted["failures"], lifted["locked"]) == (THRESHOLD, True)


def test_unlock_needs_users_write_and_a_real_user(server, services, make, tenant, admin):
    person = make.user(tenant, password=PASSWORD)
    spec = admin.spec
    reader = Api(
        server.url,
        create_api_key(services.uow(), OPERATOR, tenant, "reader", ("users:read",)).secret,
        spec,
    )
    unlock = UNLOCK.format(slug=tenant.slug, user_id=person.subject)
    assert reader.post(unlock, UNLOCK).status_code == 403
    assert reader.get(LOCKOUT.format(slug=tenant.slug, user_id=person.subject), LOCKOUT).ok
    missing = admin.post(UNLOCK.format(slug=tenant.slug, user_id="no-such-user"), UNLOCK)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    gone = admin.get(LOCKOUT.format(slug=tenant.slug, user_id="no-such-user"), LOCKOUT)
    assert gone.status_code == 404


@pytest.fixture(scope="module")
def redis_backed(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """PostgreSQL and a Redis of this module's own, which a test stops."""
    directory = tmp_path_factory.mktemp("lockout-store-loss")
    with served_on_own_redis(redis_server.url, directory, _start) as live:
        yield live


@pytest.mark.redis
def test_an_unreachable_store_answers_503_never_a_sign_in(redis_backed, redis_server):
    make = Factory(redis_backed.services, redis_backed.url)
    tenant = make.tenant()
    person = make.user(tenant, password=PASSWORD)
    browser = Browser(requests.Session(), make.issuer(tenant))
    form = hidden_fields(browser.get(f"{browser.issuer}/login").text)
    key = create_api_key(redis_backed.services.uow(), OPERATOR, tenant, "admin", None).secret
    headers = {"Authorization": f"Bearer {key}"}
    api = f"{redis_backed.url}/api/v1{LOCKOUT.format(slug=tenant.slug, user_id=person.subject)}"
    redis_server.stop()
    try:
        login = browser.http.post(
            f"{browser.issuer}/login",
            data={**form, "email": person.email, "password": PASSWORD},
            allow_redirects=False,
            timeout=15,
        )
        assert login.status_code == 503, login.text
        assert int(login.headers["Retry-After"]) > 0
        assert "Set-Cookie" not in login.headers  # no session was opened
        state = requests.get(api, headers=headers, timeout=15)
        assert state.status_code == 503
        assert state.headers["Content-Type"] == "application/problem+json"
    finally:
        redis_server.start()
    assert browser.sign_in(f"{browser.issuer}/login", person.email, PASSWORD).status_code == 200
