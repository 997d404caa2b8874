"""Passkeys over HTTP (issue 10 §2) with a software authenticator: what a browser posts is
verified, and whatever else is posted (forged, replayed, for another origin or relying party,
of an unknown credential, malformed) gets a friendly 400 in JSON, never a 500 and never a
session."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from idp.models.passkeys import Passkey
from idp.models.sessions import LoginSession
from idp.models.users import User
from tests.support.account import csrf_of, open_account, set_tenant_columns, signed_in_account
from tests.support.browser import hidden_fields
from tests.support.factories import Factory
from tests.support.passkeys import add_passkey, origin_of, passkey_options
from tests.support.soft_authenticator import SoftAuthenticator, b64u

REFUSED = "That passkey could not be used here. Try again, or use another way to sign in."


@pytest.fixture
def registered(make: Factory) -> tuple[str, Any, SoftAuthenticator]:
    """A person with one passkey: the issuer, the person, their authenticator."""
    tenant = make.tenant()
    issuer, person, soft = make.issuer(tenant), make.user(tenant), SoftAuthenticator()
    with signed_in_account(issuer, person.email) as http:
        added = add_passkey(http, issuer, soft, "Laptop")
    assert added.status_code == 200, added.text
    assert added.json()["redirect"] == f"{issuer}/account?done=passkey"
    return issuer, person, soft


def _post_assertion(http: requests.Session, issuer: str, csrf: str, credential: str):
    return http.post(
        f"{issuer}/login/passkey", data={"csrf_token": csrf, "txn": "", "credential": credential}
    )


def _sign_in(issuer: str, soft: SoftAuthenticator, **forged: str) -> requests.Response:
    with requests.Session() as http:
        csrf, options = passkey_options(http, issuer, "sign_in", "/login")
        origin = forged.pop("origin", origin_of(issuer))
        return _post_assertion(http, issuer, csrf, soft.get(options, origin, **forged))


def _refused(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {"error": REFUSED}
    assert "idp_session" not in response.headers.get("Set-Cookie", "")


def test_passwordless_sign_in_opens_a_session(registered):
    issuer, _, soft = registered
    with requests.Session() as http:
        csrf, options = passkey_options(http, issuer, "sign_in", "/login")
        assert options["rpId"] == "127.0.0.1"  # the public URL's host by default
        assert options["allowCredentials"] == []  # discoverable: no e-mail typed
        answer = _post_assertion(http, issuer, csrf, soft.get(options, origin_of(issuer)))
        assert answer.status_code == 200, answer.text
        assert answer.json()["redirect"] == f"{issuer}/account"
        account = http.get(f"{issuer}/account", allow_redirects=False)
        assert account.status_code == 200 and "<h1>Your account</h1>" in account.text


def test_a_replayed_response_is_refused(registered):
    issuer, _, soft = registered
    with requests.Session() as http:
        csrf, options = passkey_options(http, issuer, "sign_in", "/login")
        credential = soft.get(options, origin_of(issuer))
        assert _post_assertion(http, issuer, csrf, credential).status_code == 200
        _refused(_post_assertion(http, issuer, csrf, credential))


@pytest.mark.parametrize(
    "forged",
    [
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
        {"challenge": b64u(b"\x00" * 32)},
    ],
    ids=["origin", "rp_id", "challenge"],
)
def test_a_forged_response_is_refused(registered, forged):
    issuer, _, soft = registered
    _refused(_sign_in(issuer, soft, **forged))


def test_an_unknown_credential_is_refused(registered):
    issuer, _, _ = registered
    _refused(_sign_in(issuer, SoftAuthenticator()))


@pytest.mark.parametrize(
    "credential",
    ["", "{", "[]", "null", '{"id": 1}', json.dumps({"rawId": "***", "response": {}}), "x" * 20000],
)
def test_a_malformed_response_is_refused_not_a_500(make: Factory, credential):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    with requests.Session() as http:
        csrf, _ = passkey_options(http, issuer, "sign_in", "/login")
        _refused(_post_assertion(http, issuer, csrf, credential))


def test_a_challenge_serves_only_the_browser_it_was_given_to(registered):
    issuer, _, soft = registered
    with requests.Session() as first, requests.Session() as second:
        _, options = passkey_options(first, issuer, "sign_in", "/login")
        csrf, _ = passkey_options(second, issuer, "sign_in", "/login")
        _refused(_post_assertion(second, issuer, csrf, soft.get(options, origin_of(issuer))))


def test_a_challenge_serves_only_its_purpose(registered):
    issuer, person, soft = registered
    with signed_in_account(issuer, person.email) as http:
        csrf, options = passkey_options(http, issuer, "register", "/account/passkeys/new")
        credential = soft.get(options, origin_of(issuer), rp_id=options["rp"]["id"])
        _refused(_post_assertion(http, issuer, csrf, credential))


def test_a_cloned_authenticator_is_refused(registered):
    issuer, _, soft = registered
    assert _sign_in(issuer, soft).status_code == 200
    soft.sign_count = 0  # a copy of the key made before that use signs with an older count
    _refused(_sign_in(issuer, soft))


def test_without_the_csrf_token_nothing_is_checked(registered):
    issuer, _, soft = registered
    with requests.Session() as http:
        _, options = passkey_options(http, issuer, "sign_in", "/login")
        answer = _post_assertion(http, issuer, "wrong", soft.get(options, origin_of(issuer)))
    assert answer.status_code == 400 and "expired" in answer.json()["error"]


def test_failures_are_throttled_per_ip(registered):
    issuer, _, soft = registered
    for _ in range(5):
        _refused(_sign_in(issuer, SoftAuthenticator()))
    throttled = _sign_in(issuer, soft)  # even the right passkey, while the wait lasts
    assert throttled.status_code == 429


def test_a_removed_passkey_is_refused(registered):
    issuer, person, soft = registered
    with signed_in_account(issuer, person.email) as http:
        account = http.get(f"{issuer}/account").text
        path = account.split('href="')[1:]
        remove = next(p.split('"')[0] for p in path if "/account/passkeys/" in p and "remove" in p)
        page = http.get(remove)
        assert page.status_code == 200
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        gone = http.post(remove, data={"csrf_token": csrf}, allow_redirects=False)
        assert gone.headers["Location"].endswith("/account?done=passkey_removed")
    _refused(_sign_in(issuer, soft))


def test_adding_a_passkey_needs_a_recent_sign_in(registered, services):
    issuer, person, _ = registered
    with signed_in_account(issuer, person.email) as http:
        with services.uow() as uow:
            uow.session.execute(
                update(LoginSession)
                .where(LoginSession.user_id == User.id, User.subject == person.subject)
                .values(auth_time=datetime.now(UTC) - timedelta(hours=1))
            )
            uow.commit()
        page = http.get(f"{issuer}/account/passkeys/new", allow_redirects=False)
        assert page.status_code == 303 and "prompt=login" in page.headers["Location"]
        csrf = csrf_of(http.get(f"{issuer}/account").text)
        options = http.post(
            f"{issuer}/passkeys/options", data={"csrf_token": csrf, "purpose": "register"}
        )
        assert options.status_code == 401


def test_the_relying_party_id_is_the_tenant_setting(make: Factory):
    tenant = make.tenant()
    set_tenant_columns(make.services, tenant, passkeys_rp_id="example.com")
    with requests.Session() as http:
        _, options = passkey_options(http, make.issuer(tenant), "sign_in", "/login")
    assert options["rpId"] == "example.com"


def _at_second_step(issuer: str, email: str) -> tuple[requests.Session, dict[str, str]]:
    """A browser past the password of the account page's sign-in, held at /mfa; its fields."""
    http = requests.Session()
    page = open_account(http, issuer, email)
    assert "/mfa" in page.url, page.url
    return http, hidden_fields(page.text)


def _second_factor(http: requests.Session, issuer: str, fields: dict[str, str], soft):
    answer = http.post(
        f"{issuer}/passkeys/options",
        data={"csrf_token": fields["csrf_token"], "txn": fields["txn"], "purpose": "second"},
    )
    assert answer.status_code == 200, answer.text
    options = answer.json()
    credential = soft.get(options, origin_of(issuer), rp_id=options["rpId"])
    return http.post(f"{issuer}/mfa/passkey", data={**fields, "credential": credential})


def test_a_passkey_is_the_second_factor_of_its_owner_only(make: Factory):
    tenant = make.tenant()
    set_tenant_columns(make.services, tenant, mfa_policy="optional")
    issuer = make.issuer(tenant)
    owner, other = make.user(tenant), make.user(tenant)
    keys = {owner.email: SoftAuthenticator(), other.email: SoftAuthenticator()}
    for email, soft in keys.items():
        with signed_in_account(issuer, email) as http:
            assert add_passkey(http, issuer, soft).status_code == 200
    http, fields = _at_second_step(issuer, owner.email)
    with http:
        _refused(_second_factor(http, issuer, fields, keys[other.email]))
        _refused(_second_factor(http, issuer, fields, SoftAuthenticator()))
        done = _second_factor(http, issuer, fields, keys[owner.email])
        assert done.status_code == 200, done.text
        assert done.json()["redirect"].startswith(f"{issuer}/authorize/resume?txn=")
        assert http.get(done.json()["redirect"], allow_redirects=False).status_code == 303


def test_a_passkey_name_keeps_only_printable_text(make: Factory):
    # Control characters were kept and shown (a NUL, which PostgreSQL refuses, no longer gets
    # this far: tests/http/test_nul_in_forms.py).
    tenant = make.tenant()
    issuer, person = make.issuer(tenant), make.user(tenant)
    with signed_in_account(issuer, person.email) as http:
        added = add_passkey(http, issuer, SoftAuthenticator(), "Lap\x07top\n\tkey\x1b")
    assert added.status_code == 200, added.text
    with make.services.uow() as uow:
        names = uow.session.scalars(
            select(Passkey.name)
            .join(User, User.id == Passkey.user_id)
            .where(User.tenant_id == tenant.id, User.subject == person.subject)
        ).all()
    assert names == ["Lap top key"]
