"""TOTP and recovery codes (issue 10 §1, §4): enrolment on the account page with codes computed
by pyotp from the secret the page shows; the second step inside a client's authorization
request; `amr`/`acr` in the ID token; replay, drift, single use, regeneration, throttling;
the tenant's `mfa` policy and step-up by `acr_values`, essential `acr` and prompt=login."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
import requests
from sqlalchemy import update

from idp.models.sessions import LoginSession
from idp.services.audit import AuditFilter, page_events
from idp.services.factors import recovery_codes, totp
from idp.services.tenancy.tenants import TenantView
from tests.support.account import open_account, set_tenant_columns
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    Browser,
    code_request,
    hidden_fields,
    pkce_pair,
    query_of,
    redeem,
    verified_claims,
)
from tests.support.factories import Factory
from tests.support.factors import (
    Enrolled,
    codes_on,
    enrol_on_account_page,
    open_account_with_factor,
    run_with_factor,
    secret_on,
    type_code,
)

SCOPE = "openid profile email"


class Person:
    """A person of `tenant` with TOTP enrolled, and a client they sign in to."""

    def __init__(self, make: Factory, tenant: TenantView) -> None:
        self.tenant = tenant
        self.issuer = make.issuer(tenant)
        self.user = make.user(tenant, password=PASSWORD)
        self.rp = make.client(
            tenant,
            grant_types=("authorization_code",),
            redirect_uris=(REDIRECT,),
            scopes=("openid", "profile", "email"),
        )
        with requests.Session() as http:
            self.factors: Enrolled = enrol_on_account_page(http, self.issuer, self.user.email)

    def claims(self, http: requests.Session, code: Any, **params: str) -> dict[str, Any]:
        """Sign in to the client in browser `http` (typing `code()` if asked): ID token claims."""
        browser = Browser(http, self.issuer)
        verifier, challenge = pkce_pair()
        request = code_request(self.rp.client.client_id, challenge, scope=SCOPE, **params)
        query = run_with_factor(browser, self.user.email, code, **request)
        assert "code" in query, query
        body = redeem(
            http, self.issuer, self.rp.client.client_id, self.rp.secret, query["code"], verifier
        )
        return verified_claims(http, self.issuer, body["id_token"])

    def at_second_step(self, http: requests.Session, **params: str) -> str:
        """Authorize and sign in with the password: the /mfa URL the flow stops at."""
        browser = Browser(http, self.issuer)
        _, challenge = pkce_pair()
        response = browser.authorize(
            **code_request(self.rp.client.client_id, challenge, scope=SCOPE, **params)
        )
        for _ in range(4):
            location = response.headers["Location"]
            if location.startswith(f"{self.issuer}/mfa"):
                return location
            if location.startswith(f"{self.issuer}/login"):
                response = browser.sign_in(location, self.user.email, PASSWORD)
            else:
                response = browser.follow(response)
        raise AssertionError("no second step")


@pytest.fixture
def optional_tenant(make: Factory, services: Any) -> TenantView:
    tenant = make.tenant()
    set_tenant_columns(services, tenant, mfa_policy="optional")
    return tenant


@pytest.fixture
def person(make: Factory, optional_tenant: TenantView) -> Person:
    return Person(make, optional_tenant)


@pytest.fixture
def fresh() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def test_password_and_totp_give_mfa_in_the_id_token(person: Person, fresh: requests.Session):
    claims = person.claims(fresh, lambda: person.factors.code(1))
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "2"


def test_the_enrolment_page_shows_the_secret_and_an_inline_qr_code(
    make: Factory, optional_tenant: TenantView, http: requests.Session
):
    issuer = make.issuer(optional_tenant)
    user = make.user(optional_tenant, password=PASSWORD)
    page = open_account(http, issuer, user.email, "/account/totp")
    secret = secret_on(page.text)
    assert len(secret) == 32 and '<svg role="img" aria-labelledby="qr-label"' in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    # A reload shows the same pending secret: an app already scanned stays right.
    assert secret_on(http.get(f"{issuer}/account/totp").text) == secret
    wrong = http.post(
        f"{issuer}/account/totp",
        data={"csrf_token": hidden_fields(page.text)["csrf_token"], "code": "000000"},
    )
    assert wrong.status_code == 400 and 'aria-invalid="true"' in wrong.text


def test_a_replayed_code_is_refused(person: Person, fresh: requests.Session):
    code = person.factors.code(1)
    assert person.claims(fresh, lambda: code)["amr"] == ["pwd", "otp", "mfa"]
    with requests.Session() as other:
        mfa = person.at_second_step(other)
        again = type_code(Browser(other, person.issuer), mfa, code)
        assert again.status_code == 401 and "already used" in again.text


def test_a_code_two_steps_old_is_refused_and_one_step_old_accepted(
    person: Person, fresh: requests.Session
):
    mfa = person.at_second_step(fresh)
    browser = Browser(fresh, person.issuer)
    totp = pyotp.TOTP(person.factors.secret)
    # One step ahead was not used at enrolment (that was "now"), so two ahead is still fresh.
    old = type_code(browser, mfa, totp.at(time.time() - 60))
    assert old.status_code == 401
    ahead = type_code(browser, mfa, totp.at(time.time() + 30))
    assert ahead.status_code == 303 and "/authorize/resume" in ahead.headers["Location"]


@pytest.mark.parametrize("typed", ["١٢٣٤٥٦", "12 34 5x", "", "9" * 200, "idp_rc_" + "é" * 90])
def test_odd_input_at_the_second_step_is_a_wrong_code(
    person: Person, fresh: requests.Session, typed: str
):
    mfa = person.at_second_step(fresh)
    assert type_code(Browser(fresh, person.issuer), mfa, typed).status_code == 401


def test_a_recovery_code_works_once(person: Person, fresh: requests.Session):
    recovery = person.factors.recovery_codes[0]
    claims = person.claims(fresh, lambda: recovery)
    assert claims["amr"] == ["pwd", "recovery", "mfa"] and claims["acr"] == "2"
    with requests.Session() as other:
        mfa = person.at_second_step(other)
        assert type_code(Browser(other, person.issuer), mfa, recovery).status_code == 401
        assert type_code(Browser(other, person.issuer), mfa, "idp_rc_forged").status_code == 401


def test_regenerating_voids_the_old_recovery_codes(person: Person, fresh: requests.Session):
    old = person.factors.recovery_codes[1]
    with requests.Session() as account:
        page = open_account_with_factor(
            account, person.issuer, person.user.email, lambda: person.factors.code(1)
        )
        assert "10 unused recovery codes" in page.text
        new_page = account.post(
            f"{person.issuer}/account/recovery-codes",
            data={"csrf_token": hidden_fields(page.text)["csrf_token"]},
        )
        new = codes_on(new_page.text)
        assert len(new) == 10 and old not in new
        assert new_page.headers["Cache-Control"] == "no-store"
    mfa = person.at_second_step(fresh)
    assert type_code(Browser(fresh, person.issuer), mfa, old).status_code == 401
    assert type_code(Browser(fresh, person.issuer), mfa, new[0]).status_code == 303


def test_wrong_codes_are_throttled_with_escalating_waits(
    person: Person, fresh: requests.Session, services: Any
):
    mfa = person.at_second_step(fresh)
    browser = Browser(fresh, person.issuer)
    statuses = [type_code(browser, mfa, "000000").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 401]
    # Over the free mistakes: even the right code waits, and says how long: the factor's own
    # wait (30 s) or the sign-in lockout's that every method shares (60 s at the fifth failure).
    blocked = type_code(browser, mfa, person.factors.code(1))
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 60
    lockout = services.lockout().state(person.tenant, person.user.email)
    assert lockout.failures == 5 and lockout.locked_until is not None
    found = AuditFilter(action="user.second_factor")
    events = page_events(services.uow(), person.tenant.id, False, found, None, 50)
    outcomes = [event.outcome for event in events.items]
    assert outcomes.count("failed") == 5 and "denied" in outcomes


def test_mfa_required_makes_people_enrol_inside_the_flow(
    make: Factory, services: Any, fresh: requests.Session
):
    tenant = make.tenant()
    set_tenant_columns(services, tenant, mfa_policy="required")
    issuer = make.issuer(tenant)
    user = make.user(tenant, password=PASSWORD)
    rp = make.client(
        tenant, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    browser = Browser(fresh, issuer)
    verifier, challenge = pkce_pair()
    start = browser.authorize(**code_request(rp.client.client_id, challenge, scope="openid"))
    at_mfa = browser.sign_in(browser.follow(start).url, user.email, PASSWORD)
    # Signed in, the flow goes on to its next step: the second factor.
    assert at_mfa.headers["Location"].startswith(f"{issuer}/mfa?txn=")
    page = browser.follow(at_mfa)
    secret = secret_on(page.text)
    form = hidden_fields(page.text) | {"code": pyotp.TOTP(secret).now()}
    shown = fresh.post(f"{issuer}/mfa/enrol", data=form, allow_redirects=False)
    assert shown.status_code == 200 and len(codes_on(shown.text)) == 10
    onwards = shown.text.split('class="button" href="')[1].split('"')[0]
    consent = browser.get(onwards.replace("&amp;", "&"))
    assert consent.headers["Location"].startswith(f"{issuer}/consent")  # after the factors
    done = browser.consent(consent.headers["Location"])
    assert done.headers["Location"].startswith(REDIRECT)
    code = query_of(done.headers["Location"])["code"]
    body = redeem(fresh, issuer, rp.client.client_id, rp.secret or "", code, verifier)
    claims = verified_claims(fresh, issuer, body["id_token"])
    assert (claims["amr"], claims["acr"]) == (["pwd", "otp", "mfa"], "2")


def test_a_client_demanding_mfa_has_a_person_without_one_enrol(
    make: Factory, fresh: requests.Session
):
    tenant = make.tenant()  # policy off: only the client's demand asks for a second factor
    issuer = make.issuer(tenant)
    user = make.user(tenant, password=PASSWORD)
    rp = make.client(
        tenant, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    browser = Browser(fresh, issuer)
    _, challenge = pkce_pair()
    start = browser.authorize(
        **code_request(rp.client.client_id, challenge, scope="openid", acr_values="2")
    )
    at_mfa = browser.sign_in(browser.follow(start).url, user.email, PASSWORD)
    page = browser.follow(at_mfa)
    assert page.status_code == 200 and secret_on(page.text)
    assert page.headers["Cache-Control"] == "no-store"


@pytest.fixture
def policy_off(make: Factory) -> Person:
    """MFA policy off (the default): nobody is asked unless a client demands it."""
    return Person(make, make.tenant())


def test_acr_values_asking_for_mfa_re_ask_a_signed_in_person(
    policy_off: Person, fresh: requests.Session
):
    person = policy_off
    first = person.claims(fresh, lambda: pytest.fail("no second factor expected"))
    assert (first["amr"], first["acr"]) == (["pwd"], "1")
    stepped_up = person.claims(fresh, lambda: person.factors.code(1), acr_values="2 1")
    assert (stepped_up["amr"], stepped_up["acr"]) == (["pwd", "otp", "mfa"], "2")
    assert stepped_up["auth_time"] == first["auth_time"]  # the same sign-in, one more factor


def test_an_essential_acr_only_mfa_meets_asks_for_the_second_factor(
    policy_off: Person, fresh: requests.Session
):
    person = policy_off
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": ["2"]}}})
    claims = person.claims(fresh, lambda: person.factors.code(1), claims=essential)
    assert claims["acr"] == "2"
    # Preferring "1" is met by the password alone.
    with requests.Session() as other:
        single = person.claims(other, lambda: pytest.fail("not asked"), acr_values="1 2")
        assert single["acr"] == "1"


@pytest.mark.parametrize("fresh_sign_in", [{"prompt": "login"}, {"max_age": "0"}])
def test_prompt_login_and_max_age_re_run_every_factor(
    person: Person, fresh: requests.Session, fresh_sign_in: dict[str, str]
):
    first = person.claims(fresh, lambda: person.factors.code(1))
    asked: list[str] = []

    def recovery() -> str:
        asked.append("code")
        return person.factors.recovery_codes[2]

    again = person.claims(fresh, recovery, **fresh_sign_in)
    assert asked == ["code"] and again["amr"] == ["pwd", "recovery", "mfa"]
    assert again["sid"] != first["sid"]


def test_prompt_none_with_a_second_factor_owed_is_login_required(
    person: Person, fresh: requests.Session
):
    person.at_second_step(fresh)  # signed in with the password only
    _, challenge = pkce_pair()
    silent = Browser(fresh, person.issuer).authorize(
        **code_request(person.rp.client.client_id, challenge, scope=SCOPE, prompt="none")
    )
    assert query_of(silent.headers["Location"])["error"] == "login_required"


def test_a_password_alone_does_not_open_the_account_page(person: Person, fresh: requests.Session):
    person.at_second_step(fresh)
    account = fresh.get(f"{person.issuer}/account", allow_redirects=False)
    assert account.status_code == 303
    onwards = Browser(fresh, person.issuer).follow(account)
    assert onwards.headers["Location"].startswith(f"{person.issuer}/mfa?txn=")


def test_turning_totp_off_needs_a_fresh_sign_in(
    person: Person, fresh: requests.Session, services: Any
):
    code = iter([person.factors.code(1), person.factors.recovery_codes[3]])
    page = open_account_with_factor(fresh, person.issuer, person.user.email, lambda: next(code))
    assert "Turn off two-step sign-in" in page.text
    with services.uow() as uow:  # the sign-in is ten minutes old
        uow.session.execute(
            update(LoginSession)
            .where(LoginSession.tenant_id == person.tenant.id)
            .values(auth_time=datetime.now(UTC) - timedelta(minutes=10))
        )
        uow.commit()
    stale = fresh.get(f"{person.issuer}/account/totp/remove", allow_redirects=False)
    assert stale.status_code == 303 and "prompt=login" in stale.headers["Location"]
    confirm = open_account_with_factor(
        fresh, person.issuer, person.user.email, lambda: next(code), "/account/totp/remove"
    )
    assert confirm.status_code == 200 and confirm.url.endswith("/account/totp/remove")
    removed = fresh.post(
        f"{person.issuer}/account/totp/remove",
        data={"csrf_token": hidden_fields(confirm.text)["csrf_token"]},
        allow_redirects=False,
    )
    assert removed.headers["Location"].endswith("/account?done=totp_removed")
    with requests.Session() as other:
        claims = person.claims(other, lambda: pytest.fail("no second factor any more"))
        assert claims["amr"] == ["pwd"]


def test_the_second_factor_gives_the_session_a_new_cookie(person: Person, fresh: requests.Session):
    mfa = person.at_second_step(fresh)
    before = dict(fresh.cookies)
    done = type_code(Browser(fresh, person.issuer), mfa, person.factors.code(1))
    assert done.status_code == 303
    changed = {name for name, value in dict(fresh.cookies).items() if before.get(name) != value}
    [name] = changed & set(before)
    with requests.Session() as copy:  # a copy of the cookie taken after the password alone
        copy.cookies.set(name, before[name])
        stale = copy.get(f"{person.issuer}/account", allow_redirects=False)
        onwards = Browser(copy, person.issuer).follow(stale)
        assert onwards.headers["Location"].startswith(f"{person.issuer}/login")


def test_with_mfa_off_the_account_page_offers_no_set_up(make: Factory, http: requests.Session):
    tenant = make.tenant()
    user = make.user(tenant, password=PASSWORD)
    page = open_account(http, make.issuer(tenant), user.email)
    assert page.status_code == 200 and "Two-step sign-in" not in page.text


def test_a_code_raced_on_two_workers_opens_one_door(person: Person, services: Any):
    """The guarded UPDATE is the acceptance: of concurrent checks of one code, one wins."""
    with services.uow() as uow:
        user_id = uow.users.by_subject(person.tenant.id, person.user.subject).id
    code, recovery = person.factors.code(1), person.factors.recovery_codes[4]
    with ThreadPoolExecutor(max_workers=4) as pool:
        totp_wins = list(
            pool.map(
                lambda _: totp.verify_code(
                    services.uow(), services.kek, person.tenant.id, user_id, code
                ),
                range(4),
            )
        )
        recovery_wins = list(
            pool.map(
                lambda _: recovery_codes.use_code(
                    services.uow(), person.tenant.id, user_id, recovery
                ),
                range(4),
            )
        )
    assert totp_wins.count(True) == 1 and recovery_wins.count(True) == 1
