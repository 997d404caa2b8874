"""The phishing-resistant acr "3" (issue 10 §4, services/tokens/claims.py): a client demanding
it by `acr_values` or an essential `acr` gets a passkey with user verification, whatever codes
the person has; the ID token's `acr` is truthful and answers what was asked; "1" and "2" keep
their behaviour (tests/http/test_totp.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from idp.http.pages.factor_forms import PASSKEY_ONLY
from idp.models.refresh_tokens import RefreshToken
from tests.support.account import set_tenant_columns
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
from tests.support.factors import Enrolled, enrol_on_account_page, type_code
from tests.support.passkeys import add_passkey, origin_of, passkey_options
from tests.support.soft_authenticator import SoftAuthenticator

SCOPE = "openid profile email"
REQUIRES_PASSKEY = "This app requires a passkey"
ESSENTIAL_3 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["3"]}}})
# Answers the /mfa step at a URL: the response of the resumed authorization request.
MfaStep = Callable[[Browser, str], requests.Response]


class Person:
    """A person with a password and TOTP (and a passkey unless `passkey` is False), and a
    client they sign in to; MFA policy off, so only the client's demands ask for more."""

    def __init__(self, make: Factory, passkey: bool = True, tenant: Any = None) -> None:
        self.tenant = tenant or make.tenant()
        self.issuer = make.issuer(self.tenant)
        self.user = make.user(self.tenant, password=PASSWORD)
        self.rp = make.client(
            self.tenant,
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris=(REDIRECT,),
            scopes=("openid", "profile", "email"),
            always_issue_refresh_token=True,
        )
        self.tokens: dict[str, Any] = {}  # the last token response
        self.soft = SoftAuthenticator()
        with requests.Session() as http:
            self.factors: Enrolled = enrol_on_account_page(http, self.issuer, self.user.email)
            if passkey:
                added = add_passkey(http, self.issuer, self.soft)
                assert added.status_code == 200, added.text

    def totp(self, browser: Browser, mfa_url: str) -> requests.Response:
        answered = type_code(browser, mfa_url, self.factors.code(1))
        assert answered.status_code == 303, answered.text
        return browser.follow(answered)

    def passkey(
        self, browser: Browser, mfa_url: str, user_verified: bool = True
    ) -> requests.Response:
        """The /mfa step answered with the passkey, as passkeys.js does."""
        page = browser.get(mfa_url)
        assert page.status_code == 200, page.text
        assert '<label for="code">' not in page.text  # only the passkey is offered
        assert PASSKEY_ONLY in page.text
        fields = hidden_fields(page.text)
        answer = browser.http.post(
            f"{self.issuer}/passkeys/options",
            data={"csrf_token": fields["csrf_token"], "txn": fields["txn"], "purpose": "second"},
        )
        assert answer.status_code == 200, answer.text
        options = answer.json()
        assert options["userVerification"] == "required"  # only a verified passkey meets "3"
        credential = self.soft.get(
            options, origin_of(self.issuer), rp_id=options["rpId"], user_verified=user_verified
        )
        done = browser.http.post(
            f"{self.issuer}/mfa/passkey", data={**fields, "credential": credential}
        )
        assert done.status_code == 200, done.text
        return browser.http.get(done.json()["redirect"], allow_redirects=False)

    def claims(self, http: requests.Session, steps: list[MfaStep], **params: str) -> dict[str, Any]:
        """Sign in to the client, answering each /mfa step with the next of `steps` (all of
        them must be used): the ID token's claims."""
        browser = Browser(http, self.issuer)
        verifier, challenge = pkce_pair()
        request = code_request(self.rp.client.client_id, challenge, scope=SCOPE, **params)
        response = browser.authorize(**request)
        pending = list(steps)
        for _ in range(10):
            location = response.headers.get("Location", "")
            if location.startswith(f"{self.issuer}/login"):
                response = browser.sign_in(location, self.user.email, PASSWORD)
            elif location.startswith(f"{self.issuer}/mfa"):
                assert pending, f"an unexpected second step: {location}"
                response = pending.pop(0)(browser, location)
            elif location.startswith(f"{self.issuer}/consent"):
                response = browser.consent(location)
            elif location.startswith(self.issuer):
                response = browser.follow(response)
            else:
                break
        query = query_of(response.headers["Location"])
        assert "code" in query, query
        assert not pending, "a second step was expected"
        self.tokens = redeem(
            http, self.issuer, self.rp.client.client_id, self.rp.secret, query["code"], verifier
        )
        return verified_claims(http, self.issuer, self.tokens["id_token"])

    def refreshed(self, http: requests.Session) -> dict[str, Any]:
        """The claims of the ID token a refresh of the last token response gives."""
        answer = http.post(
            f"{self.issuer}/token",
            data={"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]},
            auth=(self.rp.client.client_id, self.rp.secret),
        )
        assert answer.status_code == 200, answer.text
        self.tokens = answer.json()
        return verified_claims(http, self.issuer, self.tokens["id_token"])

    def at_second_step(self, http: requests.Session, **params: str) -> str:
        """Authorize, signing in with the password if asked: the /mfa URL the flow stops at."""
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
def person(make: Factory) -> Person:
    return Person(make)


@pytest.fixture
def fresh() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _passkey_only_session(person: Person, http: requests.Session) -> None:
    """Sign in passwordless (no client): the session's amr is hwk, user, mfa."""
    csrf, options = passkey_options(http, person.issuer, "sign_in", "/login")
    assert options["userVerification"] == "preferred"  # no request demands "3" here
    answer = http.post(
        f"{person.issuer}/login/passkey",
        data={
            "csrf_token": csrf,
            "txn": "",
            "credential": person.soft.get(options, origin_of(person.issuer)),
        },
    )
    assert answer.status_code == 200, answer.text


def test_acr_3_steps_a_password_and_totp_session_up_to_a_passkey(
    person: Person, fresh: requests.Session
):
    first = person.claims(fresh, [person.totp], acr_values="2")
    assert (first["amr"], first["acr"]) == (["pwd", "otp", "mfa"], "2")
    stepped = person.claims(fresh, [person.passkey], acr_values="3")
    assert stepped["acr"] == "3"
    assert stepped["amr"] == ["pwd", "otp", "hwk", "user", "mfa"]
    assert stepped["auth_time"] == first["auth_time"]  # the same sign-in, one more factor
    # A session at "3" passes straight through, and meets "2" when that is what is asked.
    again = person.claims(fresh, [], acr_values="3")
    assert again["acr"] == "3"
    assert person.claims(fresh, [], acr_values="2")["acr"] == "2"


def test_acr_3_from_a_password_alone_takes_only_the_passkey(
    person: Person, fresh: requests.Session
):
    claims = person.claims(fresh, [person.passkey], acr_values="3 2")
    assert (claims["amr"], claims["acr"]) == (["pwd", "hwk", "user", "mfa"], "3")


def test_the_first_supported_acr_value_is_the_one_aimed_for(
    person: Person, fresh: requests.Session
):
    # "2" comes first: a TOTP code does, and the ID token says "2".
    claims = person.claims(fresh, [person.totp], acr_values="urn:example:unknown 2 3")
    assert (claims["amr"], claims["acr"]) == (["pwd", "otp", "mfa"], "2")
    # "3" first: the same session is stepped up to the passkey.
    claims = person.claims(fresh, [person.passkey], acr_values="urn:example:unknown 3 2")
    assert claims["acr"] == "3"


def test_an_essential_acr_only_3_meets_asks_for_the_passkey(
    person: Person, fresh: requests.Session
):
    claims = person.claims(fresh, [person.passkey], claims=ESSENTIAL_3)
    assert (claims["amr"], claims["acr"]) == (["pwd", "hwk", "user", "mfa"], "3")


def test_a_passkey_without_user_verification_does_not_meet_3(
    person: Person, fresh: requests.Session
):
    mfa_url = person.at_second_step(fresh, acr_values="3")
    browser = Browser(fresh, person.issuer)
    resumed = person.passkey(browser, mfa_url, user_verified=False)
    # Two factors now (pwd, hwk), not phishing-resistant: back at the passkey step.
    assert resumed.headers["Location"].startswith(f"{person.issuer}/mfa?txn=")
    claims = person.claims(fresh, [person.passkey], acr_values="3")
    assert (claims["amr"], claims["acr"]) == (["pwd", "hwk", "user", "mfa"], "3")


def test_a_totp_code_is_refused_when_3_is_demanded(person: Person, fresh: requests.Session):
    mfa_url = person.at_second_step(fresh, acr_values="3")
    browser = Browser(fresh, person.issuer)
    page = browser.get(mfa_url)
    assert page.status_code == 200 and '<label for="code">' not in page.text
    form = hidden_fields(page.text) | {"code": person.factors.code(1)}
    refused = fresh.post(f"{person.issuer}/mfa", data=form, allow_redirects=False)
    assert refused.status_code == 403 and PASSKEY_ONLY in refused.text
    # Nothing was recorded: the code still works for a request that asks for "2".
    with requests.Session() as other:
        assert person.claims(other, [person.totp], acr_values="2")["acr"] == "2"


def test_a_recovery_code_is_refused_when_3_is_demanded(person: Person, fresh: requests.Session):
    mfa_url = person.at_second_step(fresh, claims=ESSENTIAL_3)
    page = Browser(fresh, person.issuer).get(mfa_url)
    form = hidden_fields(page.text) | {"code": person.factors.recovery_codes[0]}
    refused = fresh.post(f"{person.issuer}/mfa", data=form, allow_redirects=False)
    assert refused.status_code == 403 and PASSKEY_ONLY in refused.text


@pytest.mark.parametrize("demand", [{"acr_values": "3"}, {"claims": ESSENTIAL_3}])
def test_a_person_without_a_passkey_is_told_the_app_requires_one(
    make: Factory, fresh: requests.Session, demand: dict[str, str]
):
    person = Person(make, passkey=False)
    mfa_url = person.at_second_step(fresh, **demand)
    page = Browser(fresh, person.issuer).get(mfa_url)
    assert page.status_code == 200, page.text
    assert REQUIRES_PASSKEY in page.text and '<label for="code">' not in page.text
    assert f'href="{person.issuer}/account"' in page.text
    # The account page is where a passkey is added: the password session reaches it.
    account = fresh.get(f"{person.issuer}/account", allow_redirects=False)
    assert account.status_code == 200, account.headers.get("Location")


def test_a_passkey_only_session_gets_the_acr_it_was_asked_for(
    person: Person, fresh: requests.Session
):
    _passkey_only_session(person, fresh)
    asked_2 = person.claims(fresh, [], acr_values="2")
    assert (asked_2["amr"], asked_2["acr"]) == (["hwk", "user", "mfa"], "2")
    assert person.claims(fresh, [])["acr"] == "3"  # nothing asked: the highest met
    assert person.claims(fresh, [], acr_values="1 3")["acr"] == "1"  # the first met
    assert person.claims(fresh, [], claims=ESSENTIAL_3)["acr"] == "3"


def test_the_acr_asked_for_travels_with_the_refresh_token_family(
    make: Factory, person: Person, fresh: requests.Session
):
    _passkey_only_session(person, fresh)
    assert person.claims(fresh, [], acr_values="2")["acr"] == "2"
    assert person.refreshed(fresh)["acr"] == "2"  # the family carries acr_values
    # A family stored before acr_values were carried reads as having asked for none.
    with make.services.uow() as uow:
        family = uow.session.scalars(
            select(RefreshToken).where(RefreshToken.tenant_id == person.tenant.id)
        ).all()
        for token in family:
            token.claims = {k: v for k, v in token.claims.items() if k != "acr_values"}
        uow.commit()
    assert person.refreshed(fresh)["acr"] == "3"


def test_prompt_none_with_3_unmet_is_login_required(person: Person, fresh: requests.Session):
    person.claims(fresh, [person.totp], acr_values="2")  # a password and TOTP session
    _, challenge = pkce_pair()
    silent = Browser(fresh, person.issuer).authorize(
        **code_request(
            person.rp.client.client_id, challenge, scope=SCOPE, prompt="none", acr_values="3"
        )
    )
    assert query_of(silent.headers["Location"])["error"] == "login_required"


def test_an_optional_policy_tenant_still_asks_for_the_passkey(make: Factory):
    tenant = make.tenant()
    set_tenant_columns(make.services, tenant, mfa_policy="optional")
    person = Person(make, tenant=tenant)
    with requests.Session() as http:
        claims = person.claims(http, [person.passkey], acr_values="3")
    assert claims["acr"] == "3"
