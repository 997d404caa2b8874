"""The Authorization Challenge Endpoint (draft-ietf-oauth-first-party-apps, issue 11 §5): a
first-party app posts e-mail and password, gets a code, redeems it with PKCE; a second factor
through `insufficient_authorization` and `auth_session`; the hosted login's lockout,
enumeration safety and audit; only for first-party clients; tenant isolation."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
import requests

from idp.services.audit import AuditFilter, page_events
from idp.services.container import Services
from idp.services.factors import recovery_codes, totp
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from idp.services.tenancy.usage import usage_report, utc_today
from tests.http.conftest import oauth_error
from tests.support.account import set_tenant_columns
from tests.support.browser import PASSWORD, REDIRECT, pkce_pair, verified_claims
from tests.support.factories import Factory

SCOPE = "openid profile email offline_access"


class App:
    """A first-party app of `tenant` and the person who signs in to it."""

    def __init__(
        self, make: Factory, http: requests.Session, tenant: TenantView, **spec: Any
    ) -> None:
        self.make, self.http, self.tenant = make, http, tenant
        self.issuer = make.issuer(tenant)
        spec.setdefault("first_party", True)
        spec.setdefault("redirect_uris", (REDIRECT,))
        self.client: IssuedClient = make.client(
            tenant,
            grant_types=("authorization_code", "refresh_token"),
            scopes=("openid", "profile", "email", "offline_access"),
            **spec,
        )
        self.user = make.user(tenant, password=PASSWORD)
        self.verifier, self.challenge = pkce_pair()

    @property
    def auth(self) -> tuple[str, str]:
        return self.client.client.client_id, self.client.secret or ""

    def post(self, issuer: str | None = None, **data: str) -> requests.Response:
        return self.http.post(
            f"{issuer or self.issuer}/authorize-challenge", data=data, auth=self.auth
        )

    def sign_in(self, password: str = PASSWORD, email: str | None = None, **extra: str) -> Any:
        return self.post(
            username=email or self.user.email,
            password=password,
            scope=SCOPE,
            code_challenge=self.challenge,
            code_challenge_method="S256",
            **extra,
        )

    def redeem(self, code: str, verifier: str | None = None) -> requests.Response:
        return self.http.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier or self.verifier,
            },
            auth=self.auth,
        )

    def claims(self, tokens: dict[str, Any]) -> dict[str, Any]:
        return verified_claims(self.http, self.issuer, tokens["id_token"])


def enrol_totp(services: Services, tenant: TenantView, user_id: int) -> str:
    """A confirmed TOTP authenticator, confirmed with the previous step's code so that the
    current step's code is still unused: its secret."""
    enrolment = totp.begin_enrolment(services.uow(), services.kek, tenant.id, user_id, "a", "b")
    before = time.time() - 30
    code = pyotp.TOTP(enrolment.secret).at(before)
    assert totp.confirm_enrolment(services.uow(), services.kek, tenant.id, user_id, code, before)
    return enrolment.secret


def user_id(services: Services, tenant: TenantView, subject: str) -> int:
    with services.uow() as uow:
        row = uow.users.by_subject(tenant.id, subject)
        assert row is not None
        return row.id


@pytest.fixture
def tenant(make: Factory) -> TenantView:
    # A tenant per test: the lockout's per-address count is per tenant, and every test calls
    # from 127.0.0.1.
    return make.tenant()


@pytest.fixture
def app(make: Factory, http: requests.Session, tenant: TenantView) -> App:
    return App(make, http, tenant)


@pytest.fixture
def mfa_app(app: App, services: Services) -> tuple[App, str]:
    """The app's person has TOTP and the tenant's policy asks for it: (app, TOTP secret)."""
    set_tenant_columns(services, app.tenant, mfa_policy="optional")
    return app, enrol_totp(services, app.tenant, user_id(services, app.tenant, app.user.subject))


def test_password_gives_a_code_the_token_endpoint_redeems_with_pkce(app: App) -> None:
    answer = app.sign_in()
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    code = answer.json()["authorization_code"]
    tokens = app.redeem(code)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(body)
    claims = app.claims(body)
    assert claims["sub"] == app.user.subject
    assert (claims["amr"], claims["acr"]) == (["pwd"], "1")
    assert claims["sid"] and "nonce" not in claims
    # The refresh family works as for any code.
    refreshed = app.http.post(
        f"{app.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=app.auth,
    )
    assert refreshed.status_code == 200, refreshed.text


def test_the_code_needs_the_right_verifier_and_is_single_use(app: App) -> None:
    code = app.sign_in().json()["authorization_code"]
    wrong, _ = pkce_pair()
    assert oauth_error(app.redeem(code, wrong)) == (400, "invalid_grant")
    assert oauth_error(app.redeem(code)) == (400, "invalid_grant")  # burnt by the first try


def test_a_public_first_party_app_signs_in_with_its_client_id(
    make: Factory, http: requests.Session, tenant: TenantView
) -> None:
    app = App(
        make,
        http,
        tenant,
        public=True,
        application_type="native",
        redirect_uris=("com.example.app:/callback",),
    )
    answer = http.post(
        f"{app.issuer}/authorize-challenge",
        data={
            "client_id": app.client.client.client_id,
            "username": app.user.email,
            "password": PASSWORD,
            "scope": "openid",
            "code_challenge": app.challenge,
            "code_challenge_method": "S256",
        },
    )
    assert answer.status_code == 200, answer.text
    tokens = http.post(
        f"{app.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": app.client.client.client_id,
            "code": answer.json()["authorization_code"],
            "code_verifier": app.verifier,
        },
    )
    assert tokens.status_code == 200, tokens.text


def test_wrong_password_and_unknown_address_get_the_same_answer(app: App) -> None:
    wrong = app.sign_in(password="not the password")
    unknown = app.sign_in(email="nobody-here@example.com")
    assert oauth_error(wrong) == oauth_error(unknown) == (400, "access_denied")
    assert wrong.json() == unknown.json()


def test_second_factor_through_auth_session(mfa_app: tuple[App, str]) -> None:
    app, secret = mfa_app
    due = app.sign_in()
    assert oauth_error(due) == (400, "insufficient_authorization")
    auth_session = due.json()["auth_session"]
    answer = app.post(auth_session=auth_session, otp=pyotp.TOTP(secret).now())
    assert answer.status_code == 200, answer.text
    tokens = app.redeem(answer.json()["authorization_code"])
    assert tokens.status_code == 200, tokens.text
    claims = app.claims(tokens.json())
    assert (claims["amr"], claims["acr"]) == (["pwd", "otp", "mfa"], "2")
    # The auth_session was spent by its step.
    again = app.post(auth_session=auth_session, otp=pyotp.TOTP(secret).now())
    assert oauth_error(again) == (400, "invalid_session")


def test_a_recovery_code_is_a_second_factor_too(
    mfa_app: tuple[App, str], services: Services
) -> None:
    app, _ = mfa_app
    codes = recovery_codes.issue_codes(
        services.uow(), app.tenant.id, user_id(services, app.tenant, app.user.subject)
    )
    auth_session = app.sign_in().json()["auth_session"]
    answer = app.post(auth_session=auth_session, otp=codes[0])
    assert answer.status_code == 200, answer.text
    claims = app.claims(app.redeem(answer.json()["authorization_code"]).json())
    assert (claims["amr"], claims["acr"]) == (["pwd", "recovery", "mfa"], "2")


def test_a_wrong_code_gets_a_fresh_auth_session_and_the_old_one_is_spent(
    mfa_app: tuple[App, str],
) -> None:
    app, secret = mfa_app
    first = app.sign_in().json()["auth_session"]
    wrong = app.post(auth_session=first, otp="000000")
    assert oauth_error(wrong) == (400, "insufficient_authorization")
    second = wrong.json()["auth_session"]
    assert second != first
    assert oauth_error(app.post(auth_session=first, otp="000000")) == (400, "invalid_session")
    answer = app.post(auth_session=second, otp=pyotp.TOTP(secret).now())
    assert answer.status_code == 200, answer.text


def test_an_auth_session_is_bound_to_its_client(
    mfa_app: tuple[App, str], make: Factory, http: requests.Session
) -> None:
    app, secret = mfa_app
    auth_session = app.sign_in().json()["auth_session"]
    other = App(make, http, app.tenant)
    stolen = other.post(auth_session=auth_session, otp=pyotp.TOTP(secret).now())
    assert oauth_error(stolen) == (400, "invalid_session")


def test_a_passkey_or_an_enrolment_is_for_the_browser(app: App, services: Services) -> None:
    set_tenant_columns(services, app.tenant, mfa_policy="required")
    assert oauth_error(app.sign_in()) == (400, "redirect_to_web")  # nothing enrolled yet
    set_tenant_columns(services, app.tenant, mfa_policy="off")
    assert oauth_error(app.sign_in(acr_values="3")) == (400, "redirect_to_web")


def test_an_unconfirmed_address_is_for_the_browser(app: App, services: Services) -> None:
    set_tenant_columns(services, app.tenant, unverified_sign_in=False)
    assert oauth_error(app.sign_in()) == (400, "redirect_to_web")
    assert oauth_error(app.sign_in(password="wrong")) == (400, "access_denied")


def test_a_client_that_is_not_first_party_is_refused(
    make: Factory, http: requests.Session, tenant: TenantView
) -> None:
    app = App(make, http, tenant, first_party=False)
    assert oauth_error(app.sign_in()) == (400, "unauthorized_client")


def test_client_authentication_is_that_of_the_token_endpoint(app: App) -> None:
    answer = app.http.post(
        f"{app.issuer}/authorize-challenge",
        data={"username": app.user.email, "password": PASSWORD},
        auth=(app.client.client.client_id, "wrong secret"),
    )
    assert oauth_error(answer) == (401, "invalid_client")


def test_lockout_applies_as_on_the_login_page(app: App) -> None:
    for _ in range(5):
        assert oauth_error(app.sign_in(password="wrong")) == (400, "access_denied")
    locked = app.sign_in()
    assert oauth_error(locked) == (429, "access_denied")
    assert int(locked.headers["Retry-After"]) > 0
    # An address without an account waits the same way.
    for _ in range(5):
        app.sign_in(email="ghost@example.com", password="wrong")
    assert oauth_error(app.sign_in(email="ghost@example.com")) == (429, "access_denied")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "a@example.com"},
        {"username": "a@example.com", "password": "x"},  # no PKCE
        {"username": "a@example.com", "password": "x", "code_challenge": "short"},
        {"auth_session": "x"},  # no otp
        {"auth_session": "x" * 5000, "otp": "123456"},
        {"username": "a" * 5000, "password": "x", "scope": "openid"},
        {"scope": "\x01", "username": "a@example.com", "password": "x"},
    ],
)
def test_bad_input_is_a_400_never_a_500(app: App, data: dict[str, str]) -> None:
    status, error = oauth_error(app.post(**data))
    assert status == 400 and error in ("invalid_request", "invalid_scope", "invalid_session")


def test_a_client_of_another_tenant_is_unknown_here(app: App, make: Factory) -> None:
    elsewhere = make.tenant()
    answer = app.post(
        issuer=make.issuer(elsewhere),
        username=app.user.email,
        password=PASSWORD,
        code_challenge=app.challenge,
        code_challenge_method="S256",
    )
    assert oauth_error(answer) == (401, "invalid_client")


def test_discovery_lists_the_endpoint(app: App) -> None:
    metadata = app.http.get(f"{app.issuer}/.well-known/openid-configuration").json()
    assert metadata["authorization_challenge_endpoint"] == f"{app.issuer}/authorize-challenge"


@pytest.mark.in_process  # reads the usage counters of the app in this process
def test_sign_ins_are_audited_as_native(app: App, services: Services) -> None:
    app.sign_in(password="wrong")
    assert app.sign_in().status_code == 200
    found = AuditFilter(action="user.sign_in")
    events = page_events(services.uow(), app.tenant.id, False, found, None, 50).items
    vias = {(event.outcome, event.details.get("via")) for event in events}
    assert vias == {("failed", "authorization_challenge"), ("success", "authorization_challenge")}
    services.usage.flush()
    today = utc_today()
    totals = usage_report(services.uow(), app.tenant, today, today).totals
    assert (totals["sign_ins"], totals["failures"]) == (1, 1)
