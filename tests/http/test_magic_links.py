"""Sign-in by a mailed link or code over real HTTP with real mail (issue 10 §3): the link in the
browser that asked resumes the client's flow; another browser, a scanner's HEAD and GET spend
nothing and sign nobody in there, and its confirm only shows the code; the code typed in the
first browser works; replayed, expired and older links and codes are refused; wrong codes are
limited; every address gets the same answer, throttled; CSRF; tenants without magic links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import update

from idp.crypto.secrets import digest
from idp.models.account_links import AccountLink
from idp.services.audit import AuditFilter, page_events
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenant_settings import update_settings
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.claims import MFA_ACR, PASSWORD_ACR
from tests.http.test_password_reset import CSRF, sessions_of
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
from tests.support.factors import enrol_on_account_page
from tests.support.factors import type_code as type_second_code
from tests.support.mail_server import (
    MailedServer,
    magic_code,
    magic_link,
    mailed,
    mailed_server,
)

__all__ = ["mailed"]
SESSION_COOKIE = re.compile(r"idp_session_")


def magic_tenant(
    mailed: MailedServer, methods: tuple[str, ...] = ("password", "magic_link")
) -> TenantView:
    tenant = mailed.make.tenant()
    services = mailed.services
    policies = {"sign_in_methods": list(methods)}
    update_settings(services.uow(), tenant.slug, {}, policies, services.settings.tokens)
    services.tenant_cache.forget(tenant.slug)
    view = services.tenant_cache.get(tenant.slug)
    assert view is not None
    return view


def client_of(mailed: MailedServer, tenant: TenantView) -> IssuedClient:
    return mailed.make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "email"),
    )


def ask(http: requests.Session, issuer: str, email: str, txn: str = "") -> requests.Response:
    page = http.get(f"{issuer}/magic", params={"txn": txn} if txn else {})
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text) | {"email": email}
    return http.post(f"{issuer}/magic", data=form, allow_redirects=False)


def type_code(http: requests.Session, issuer: str, code: str, txn: str = "") -> requests.Response:
    page = http.get(f"{issuer}/magic/code", params={"txn": txn} if txn else {})
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text) | {"code": code}
    return http.post(f"{issuer}/magic/code", data=form, allow_redirects=False)


def signed_in(http: requests.Session) -> bool:
    return any(SESSION_COOKIE.match(cookie.name) for cookie in http.cookies)


def start_flow(browser: Browser, issued: IssuedClient) -> tuple[str, str]:
    """An authorization request that lands on the login page: (its txn, the PKCE verifier)."""
    verifier, challenge = pkce_pair()
    response = browser.authorize(
        **code_request(issued.client.client_id, challenge, scope="openid email")
    )
    login = response.headers["Location"]
    assert login.startswith(f"{browser.issuer}/login"), login
    page = browser.get(login)
    assert "E-mail me a sign-in link" in page.text
    return query_of(login)["txn"], verifier


def to_client(browser: Browser, response: requests.Response) -> dict[str, str]:
    """Follow a signed-in browser through consent to the client."""
    for _ in range(4):
        location = response.headers.get("Location", "")
        assert response.status_code in (302, 303), (response.status_code, response.text)
        if location.startswith(f"{browser.issuer}/consent"):
            response = browser.consent(location)
        elif location.startswith(browser.issuer):
            response = browser.follow(response)
        else:
            return query_of(location)
    raise AssertionError("the flow did not reach the client")


def test_the_link_in_the_browser_that_asked_resumes_the_client_flow(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    issued = client_of(mailed, tenant)
    with requests.Session() as http:
        browser = Browser(http, issuer)
        txn, verifier = start_flow(browser, issued)
        asked = ask(http, issuer, person.email, txn)
        assert asked.status_code == 303
        assert asked.headers["Location"] == f"{issuer}/magic/code?txn={txn}"
        [mail] = mailed.mails_to(person.email, 1)
        assert mail["Subject"] == "Sign in to Test tenant"
        opened = browser.get(magic_link(mail))
        assert opened.status_code == 303, opened.text
        assert opened.headers["Location"] == f"{issuer}/consent?txn={txn}"
        assert opened.headers["Referrer-Policy"] == "no-referrer"
        query = to_client(browser, opened)
        assert query["state"] == "st-123"
        tokens = redeem(
            http, issuer, issued.client.client_id, issued.secret or "", query["code"], verifier
        )
        claims = verified_claims(http, issuer, tokens["id_token"])
        assert claims["amr"] == ["email"] and claims["acr"] == PASSWORD_ACR
        assert claims["sub"] == person.subject
        replayed = browser.get(magic_link(mail))
        assert replayed.status_code == 400 and "no longer works" in replayed.text
    events = page_events(
        mailed.services.uow(), tenant.id, False, AuditFilter(action="user.*"), None, 20
    )
    actions = {(e.action, (e.details or {}).get("method")) for e in events.items}
    assert ("user.magic_link_requested", None) in actions
    assert ("user.sign_in", "magic_link") in actions


def test_another_browser_and_scanners_spend_nothing_and_sign_nobody_in(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as first:
        ask(first, issuer, person.email)
        [mail] = mailed.mails_to(person.email, 1)
        link = magic_link(mail)
        assert requests.head(link, timeout=10).status_code == 200  # a scanner's HEAD
        assert requests.get(link, timeout=10).status_code == 200  # and its GET
        with requests.Session() as other:
            page = other.get(link)
            assert page.status_code == 200 and "Show the sign-in code" in page.text
            assert page.headers["Referrer-Policy"] == "no-referrer"
            shown = other.post(link.split("?")[0], data=hidden_fields(page.text))
            assert shown.status_code == 200 and magic_code(mail) in shown.text
            assert not signed_in(other)
        assert sessions_of(mailed, person.subject) == 0
        assert Browser(first, issuer).get(link).status_code == 200  # signed in, no request
        assert signed_in(first)
    assert sessions_of(mailed, person.subject) == 1


def test_a_victims_confirm_never_signs_in_the_browser_that_asked(mailed: MailedServer):
    """An attacker asks a link for the victim's address; the victim opens the genuine mail
    and presses the button: the attacker's browser, waiting, stays signed out."""
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    victim = mailed.make.user(tenant)
    with requests.Session() as attacker, requests.Session() as victims:
        ask(attacker, issuer, victim.email)
        [mail] = mailed.mails_to(victim.email, 1)
        page = victims.get(magic_link(mail))
        victims.post(magic_link(mail).split("?")[0], data=hidden_fields(page.text))
        waiting = attacker.get(f"{issuer}/magic/code")
        assert waiting.status_code == 200 and not signed_in(attacker)
        assert type_code(attacker, issuer, "000000").status_code == 400
        assert not signed_in(attacker) and not signed_in(victims)
    assert sessions_of(mailed, victim.subject) == 0


def test_the_code_typed_in_the_first_browser_works_and_only_there(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    issued = client_of(mailed, tenant)
    with requests.Session() as http:
        browser = Browser(http, issuer)
        txn, verifier = start_flow(browser, issued)
        ask(http, issuer, person.email, txn)
        [mail] = mailed.mails_to(person.email, 1)
        with requests.Session() as other:  # the code is no use in a browser that did not ask
            elsewhere = type_code(other, issuer, magic_code(mail))
            assert elsewhere.status_code == 400 and not signed_in(other)
        typed = type_code(http, issuer, f" {magic_code(mail)[:3]} {magic_code(mail)[3:]} ", txn)
        assert typed.status_code == 303, typed.text
        query = to_client(browser, typed)
        tokens = redeem(
            http, issuer, issued.client.client_id, issued.secret or "", query["code"], verifier
        )
        assert verified_claims(http, issuer, tokens["id_token"])["amr"] == ["email"]
        assert type_code(http, issuer, magic_code(mail)).status_code == 400  # replayed
        assert browser.get(magic_link(mail)).status_code == 400  # the link went with it


def test_replayed_expired_and_older_links_and_codes_are_refused(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        ask(http, issuer, person.email)
        older = mailed.mails_to(person.email, 1)[0]
        ask(http, issuer, person.email)
        newer = mailed.mails_to(person.email, 2)[1]
        assert http.get(magic_link(older)).status_code == 400
        if magic_code(older) != magic_code(newer):
            assert type_code(http, issuer, magic_code(older)).status_code == 400
        forged = magic_link(newer)[:-4] + (
            "AAAA" if not magic_link(newer).endswith("AAAA") else "BBBB"
        )
        assert http.get(forged).status_code == 400
        assert http.get(magic_link(newer), allow_redirects=False).status_code == 200
        assert http.get(magic_link(newer)).status_code == 400  # replayed
    with requests.Session() as http:
        ask(http, issuer, person.email)
        expired = mailed.mails_to(person.email, 3)[2]
        with mailed.services.uow() as uow:
            uow.session.execute(
                update(AccountLink)
                .where(AccountLink.purpose == "magic_link")
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            uow.commit()
        assert type_code(http, issuer, magic_code(expired)).status_code == 400
        assert http.get(magic_link(expired)).status_code == 400
        assert not signed_in(http)
    assert sessions_of(mailed, person.subject) == 1


def test_five_wrong_codes_void_the_code_and_the_link(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        ask(http, issuer, person.email)
        [mail] = mailed.mails_to(person.email, 1)
        right = magic_code(mail)
        wrong = f"{(int(right) + 1) % 10**6:06d}"
        for _ in range(4):
            refused = type_code(http, issuer, wrong)
            assert refused.status_code == 400 and "This code is not right" in refused.text
        fifth = type_code(http, issuer, wrong)
        assert fifth.status_code == 400 and "no longer works" in fifth.text
        assert type_code(http, issuer, right).status_code == 400
        assert http.get(magic_link(mail)).status_code == 400
        assert not signed_in(http)


def test_a_store_that_loses_the_pending_code_makes_the_code_fail_never_pass(
    mailed: MailedServer,
):
    """DESIGN §3: what the store held for the code (the browser's pointer to its link, the
    count of wrong tries) is lost; the code then fails, and the link, recorded in the
    database, still works once in the browser that asked."""
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        ask(http, issuer, person.email)
        [mail] = mailed.mails_to(person.email, 1)
        [browser] = [c.value for c in http.cookies if c.name.startswith("idp_magic_")]
        for kind in ("pending", "tries"):
            mailed.services.store.delete(f"magic:{kind}:{tenant.id}:{digest(browser)}")
        assert type_code(http, issuer, magic_code(mail)).status_code == 400
        assert not signed_in(http)
        assert http.get(magic_link(mail)).status_code == 200 and signed_in(http)
        assert http.get(magic_link(mail)).status_code == 400


def test_known_and_unknown_addresses_get_the_same_answer(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    answers = []
    for address in (person.email, "nobody-here@example.com"):
        with requests.Session() as http:
            asked = ask(http, issuer, address)
            assert "idp_magic_" in asked.headers["Set-Cookie"]
            page = http.get(asked.headers["Location"])
            answers.append((asked.status_code, asked.headers["Location"], CSRF.sub("", page.text)))
            assert type_code(http, issuer, "123456").status_code == 400
    assert answers[0] == answers[1]
    mailed.mails_to(person.email, 1)
    assert mailed.mails_now("nobody-here@example.com") == 0


def test_posts_without_the_csrf_token_are_refused(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        assert http.post(f"{issuer}/magic", data={"email": person.email}).status_code == 400
        assert mailed.mails_now(person.email) == 0
        ask(http, issuer, person.email)
        [mail] = mailed.mails_to(person.email, 1)
        code = magic_code(mail)
        assert http.post(f"{issuer}/magic/code", data={"code": code}).status_code == 400
        token = magic_link(mail).split("token=")[1]
        refused = requests.post(f"{issuer}/magic/link", data={"token": token}, timeout=10)
        assert refused.status_code == 400 and code not in refused.text
        assert not signed_in(http)
        assert type_code(http, issuer, code).status_code == 200  # nothing was spent
        assert signed_in(http)


def test_bad_input_gets_a_friendly_page(mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        assert ask(http, issuer, "not an address").status_code == 400
        for token in ("", "x" * 5000, "%00", "é"):
            assert http.get(f"{issuer}/magic/link", params={"token": token}).status_code == 400
        assert type_code(http, issuer, "x" * 5000).status_code == 400
        assert http.get(f"{issuer}/magic", params={"txn": "x" * 5000}).status_code == 200


def test_a_tenant_without_magic_links_offers_none(mailed: MailedServer):
    tenant = magic_tenant(mailed, methods=("password",))
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        login = http.get(f"{issuer}/login")
        assert login.status_code == 200 and "sign-in link" not in login.text
        for path in ("/magic", "/magic/code", "/magic/link?token=abc"):
            page = http.get(f"{issuer}{path}")
            assert page.status_code == 404 and "Sign-in links are not offered" in page.text
        form = hidden_fields(login.text) | {"email": person.email}
        assert http.post(f"{issuer}/magic", data=form).status_code == 404
    assert mailed.mails_now(person.email) == 0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict(request, tmp_path_factory) -> Iterator[MailedServer]:
    limits = {"magic_links_per_address": 2, "magic_links_per_ip": 5}
    yield from mailed_server(request, tmp_path_factory, rate_limits=limits)


def test_requests_are_throttled_per_address_known_or_not_and_per_ip(strict: MailedServer):
    tenant = magic_tenant(strict)
    issuer = strict.make.issuer(tenant)
    person = strict.make.user(tenant)
    with requests.Session() as http:
        for address in (person.email, "stranger@example.com"):
            assert [ask(http, issuer, address).status_code for _ in range(3)] == [303, 303, 429]
        over = ask(http, issuer, "third@example.com")  # the sixth from this IP
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert "Too many attempts" in over.text
    assert len(strict.mails_to(person.email, 2)) == 2


def test_wrong_codes_and_wrong_passwords_share_the_account_lockout(mailed: MailedServer):
    """Issue 10 §5: failures of every method count towards one lockout; a waiting account takes
    neither its right password nor its right code."""
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant, password=PASSWORD)
    with requests.Session() as http:
        ask(http, issuer, person.email)
        [mail] = mailed.mails_to(person.email, 1)
        wrong = f"{(int(magic_code(mail)) + 1) % 10**6:06d}"
        for _ in range(4):
            assert type_code(http, issuer, wrong).status_code == 400
        browser = Browser(http, issuer)
        assert (
            browser.sign_in(f"{issuer}/login", person.email, "not the password").status_code == 401
        )
        locked = browser.sign_in(f"{issuer}/login", person.email, PASSWORD)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    mailed.services.lockout().unlock(tenant, person.email)
    with requests.Session() as http:
        browser = Browser(http, issuer)
        for _ in range(5):
            assert browser.sign_in(f"{issuer}/login", person.email, "wrong").status_code in (
                401,
                429,
            )
        ask(http, issuer, person.email)
        [_, mail] = mailed.mails_to(person.email, 2)
        refused = type_code(http, issuer, magic_code(mail))
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert not signed_in(http)


def test_a_link_is_a_first_factor_and_an_enrolled_person_still_gives_the_second(
    mailed: MailedServer,
):
    """DESIGN §13: the mailbox is one factor; with TOTP enrolled (tenant MFA optional) the
    flow stops at the second step, and the ID token then says both."""
    tenant = magic_tenant(mailed)
    set_tenant_columns(mailed.services, tenant, mfa_policy="optional")
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant, password=PASSWORD)
    issued = client_of(mailed, tenant)
    with requests.Session() as http:
        enrolled = enrol_on_account_page(http, issuer, person.email)
    with requests.Session() as http:
        browser = Browser(http, issuer)
        txn, verifier = start_flow(browser, issued)
        ask(http, issuer, person.email, txn)
        [mail] = mailed.mails_to(person.email, 1)
        opened = browser.get(magic_link(mail))
        mfa = opened.headers["Location"]
        assert mfa.startswith(f"{issuer}/mfa?txn="), mfa
        query = to_client(browser, type_second_code(browser, mfa, enrolled.code(1)))
        tokens = redeem(
            http, issuer, issued.client.client_id, issued.secret or "", query["code"], verifier
        )
        claims = verified_claims(http, issuer, tokens["id_token"])
        assert claims["amr"] == ["email", "otp", "mfa"] and claims["acr"] == MFA_ACR
