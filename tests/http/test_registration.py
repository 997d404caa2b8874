"""Sign-up over real HTTP with real mail (issue 9 §2): a person sent by a client signs up, gets
the verification mail, confirms, signs in and ends at the client with tokens whose claims carry
the tenant's profile attributes under their scope; sign-up closed; no answer tells a stranger
whether an address has an account; bad input, CSRF, throttling and a dead SMTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from idp.services.audit import AuditFilter, page_events
from idp.services.tenancy.tenant_settings import update_settings
from idp.services.tenancy.tenants import TenantView
from tests.http.test_password_reset import CSRF, signs_in
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
from tests.support.mail_server import (
    MailedServer,
    mailed,
    mailed_server,
    text_of,
    verify_link,
)

__all__ = ["mailed"]
ATTRIBUTES = [
    {"name": "company", "label": "Company", "required": True, "scope": "organisation"},
    {"name": "seats", "label": "Seats", "type": "integer", "scope": "organisation"},
    {"name": "newsletter", "label": "Newsletter", "type": "boolean"},
    {"name": "internal_ref", "label": "Reference", "at_registration": False},
]
SCOPES = "openid profile email organisation"


def open_tenant(mailed: MailedServer, **policies: Any) -> TenantView:
    """A tenant that lets people sign up, declaring ATTRIBUTES; `policies` added."""
    tenant = mailed.make.tenant()
    policies = {"self_registration": True, "profile_attributes": ATTRIBUTES, **policies}
    services = mailed.services
    update_settings(services.uow(), tenant.slug, {}, policies, services.settings.tokens)
    services.tenant_cache.forget(tenant.slug)
    return tenant


def form_of(email: str, password: str = PASSWORD, **fields: str) -> dict[str, str]:
    return {
        "email": email,
        "password": password,
        "password_confirm": password,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "attributes-company": "Analytical Engines Ltd",
        "attributes-seats": "3",
        "attributes-newsletter": "on",
    } | fields


def sign_up(http: requests.Session, issuer: str, email: str, **fields: str) -> requests.Response:
    """Fill in the sign-up page (with the `txn` of the URL, if any) and send it."""
    url = fields.pop("url", f"{issuer}/signup")
    page = http.get(url)
    assert page.status_code == 200, page.text
    for label in ("email", "password", "password_confirm", "given_name", "attributes-company"):
        assert f'<label for="{label}">' in page.text
    assert 'id="attributes-internal_ref"' not in page.text  # not asked at registration
    form = hidden_fields(page.text) | form_of(email, **fields)
    return http.post(f"{issuer}/signup", data=form, allow_redirects=False)


def confirm(http: requests.Session, link: str) -> requests.Response:
    """Open the mailed link and press the confirm button."""
    page = http.get(link, allow_redirects=False)
    if page.status_code != 200:
        return page
    assert page.headers["Referrer-Policy"] == "no-referrer"
    return http.post(link.split("?")[0], data=hidden_fields(page.text), allow_redirects=False)


def follow_to_client(browser: Browser, response: requests.Response) -> dict[str, str]:
    """From a signed-in login answer through consent to the client: its redirect's query."""
    for _ in range(6):
        assert response.status_code in (302, 303), (response.status_code, response.text)
        location = response.headers["Location"]
        if location.startswith(f"{browser.issuer}/consent"):
            response = browser.consent(location)
        elif location.startswith(browser.issuer):
            response = browser.follow(response)
        else:
            assert location.startswith(REDIRECT)
            return query_of(location)
    raise AssertionError("the flow did not reach the client")


def test_sign_up_confirm_sign_in_and_the_client_gets_the_attributes(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    issued = mailed.make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=tuple(SCOPES.split()),
    )
    client_id, secret = issued.client.client_id, issued.secret or ""
    email = "ada@example.com"
    with requests.Session() as http:
        browser = Browser(http, issuer)
        verifier, challenge = pkce_pair()
        start = browser.authorize(**code_request(client_id, challenge, scope=SCOPES))
        login_url = start.headers["Location"]
        txn = query_of(login_url)["txn"]
        login = http.get(login_url)
        signup_url = f"{issuer}/signup?{urlencode({'txn': txn})}"
        assert f'href="{signup_url}"' in login.text
        sent = sign_up(http, issuer, email, url=signup_url)
        assert sent.status_code == 200 and "Check your mail" in sent.text
        [mail] = mailed.mails_to(email, 1)
        assert mail["Subject"] == "Confirm your e-mail address for Test tenant"
        confirmed = confirm(http, verify_link(mail))
        assert confirmed.status_code == 303
        back = confirmed.headers["Location"]
        assert back.startswith(f"{issuer}/login?") and query_of(back)["txn"] == txn
        page = http.get(back)
        assert "Your e-mail address is confirmed" in page.text
        query = follow_to_client(browser, browser.sign_in(back, email, PASSWORD))
        assert query["state"] == "st-123"
        tokens = redeem(http, issuer, client_id, secret, query["code"], verifier)
        claims = verified_claims(http, issuer, tokens["id_token"])
        userinfo = http.get(
            f"{issuer}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
    for released in (claims, userinfo):
        assert released["email"] == email and released["email_verified"] is True
        assert (released["given_name"], released["family_name"]) == ("Ada", "Lovelace")
        assert released["name"] == "Ada Lovelace"
        assert (released["company"], released["seats"]) == ("Analytical Engines Ltd", 3)
        assert released["newsletter"] is True
        assert "internal_ref" not in released


def test_attributes_go_out_only_under_their_scope(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    narrow = mailed.make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "email"),
    )
    email = "grace@example.com"
    with requests.Session() as http:
        sign_up(http, issuer, email)
        confirm(http, verify_link(mailed.mails_to(email, 1)[0]))
    with requests.Session() as http:
        browser = Browser(http, issuer)
        verifier, challenge = pkce_pair()
        client_id = narrow.client.client_id
        query = browser.run(
            email, PASSWORD, **code_request(client_id, challenge, scope="openid email")
        )
        tokens = redeem(http, issuer, client_id, narrow.secret or "", query["code"], verifier)
        claims = verified_claims(http, issuer, tokens["id_token"])
        assert "company" not in claims and "newsletter" not in claims
        # A scope the client was not given cannot be asked for (RFC 6749 §3.3).
        _, challenge = pkce_pair()
        refused = browser.authorize(**code_request(client_id, challenge, scope=SCOPES))
        assert query_of(refused.headers["Location"])["error"] == "invalid_scope"


def test_sign_up_closed_is_a_page_and_nothing_links_to_it(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        page = http.get(f"{issuer}/signup")
        assert page.status_code == 404 and "Sign-up is closed" in page.text
        form = hidden_fields(http.get(f"{issuer}/login").text) | form_of("eve@example.com")
        posted = http.post(f"{issuer}/signup", data=form)
        assert posted.status_code == 404 and "Sign-up is closed" in posted.text
        for path in ("/login", "/password/forgot", "/email/verify/resend"):
            assert "/signup" not in http.get(f"{issuer}{path}").text
    with mailed.services.uow() as uow:
        assert uow.users.by_email(tenant.id, "eve@example.com") is None


def test_taken_and_free_addresses_get_the_same_answer(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    owner = mailed.make.user(tenant, email="taken@example.com", password=PASSWORD)
    with requests.Session() as http:
        taken = sign_up(http, issuer, owner.email, password="another password 1")
        free = sign_up(http, issuer, "free@example.com", password="another password 1")
    assert taken.status_code == free.status_code == 200
    assert CSRF.sub("", taken.text) == CSRF.sub("", free.text)
    [notice] = mailed.mails_to(owner.email, 1)
    assert notice["Subject"] == "Someone tried to sign up at Test tenant with your address"
    assert f"{issuer}/password/forgot" in text_of(notice) and "/email/verify" not in text_of(notice)
    verify_link(mailed.mails_to("free@example.com", 1)[0])
    assert signs_in(issuer, owner.email, PASSWORD)  # the account is untouched
    assert not signs_in(issuer, owner.email, "another password 1")
    events = page_events(
        mailed.services.uow(), tenant.id, False, AuditFilter(action="user.signup"), None, 10
    )
    assert sorted((e.outcome, e.target_id == owner.subject) for e in events.items) == [
        ("failed", True),
        ("success", False),
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"email": "not an address"}, "email"),
        ({"password": "short", "password_confirm": "short"}, "password"),
        ({"password": "password1234", "password_confirm": "password1234"}, "password"),
        (
            {"password": "someone@example.com", "password_confirm": "someone@example.com"},
            "password",
        ),
        ({"password_confirm": "something else entirely"}, "password_confirm"),
        ({"given_name": "  "}, "given_name"),
        ({"attributes-company": ""}, "attributes-company"),
        ({"attributes-seats": "three"}, "attributes-seats"),
    ],
)
def test_bad_input_is_shown_beside_its_field(mailed: MailedServer, fields, problem):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        page = http.get(f"{issuer}/signup")
        form = hidden_fields(page.text) | form_of("someone@example.com") | fields
        refused = http.post(f"{issuer}/signup", data=form)
    assert refused.status_code == 400
    assert f'href="#{problem}"' in refused.text and 'aria-invalid="true"' in refused.text
    assert 'value="Lovelace"' in refused.text  # what was typed stays, never the password
    with mailed.services.uow() as uow:
        assert uow.users.by_email(tenant.id, "someone@example.com") is None


def test_posts_without_the_csrf_token_are_refused(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        http.get(f"{issuer}/signup")  # the CSRF cookie, but no token in the form
        refused = http.post(f"{issuer}/signup", data=form_of("csrf@example.com"))
        assert refused.status_code == 400 and "This form has expired" in refused.text
        resend = http.post(f"{issuer}/email/verify/resend", data={"email": "csrf@example.com"})
        assert resend.status_code == 400
    with mailed.services.uow() as uow:
        assert uow.users.by_email(tenant.id, "csrf@example.com") is None


def test_a_dead_mail_server_holds_nobody_up_and_the_mail_goes_out_later(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    mailed.smtp.stop()
    try:
        with requests.Session() as http:
            started = time.monotonic()
            assert sign_up(http, issuer, "patient@example.com").status_code == 200
            assert time.monotonic() - started < 2
        time.sleep(1.5)
        assert mailed.mails_now("patient@example.com") == 0
    finally:
        mailed.smtp.start()
    verify_link(mailed.mails_to("patient@example.com", 1, timeout=30)[0])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict(request, tmp_path_factory) -> Iterator[MailedServer]:
    limits = {"signups_per_address": 2, "signups_per_ip": 5}
    yield from mailed_server(request, tmp_path_factory, rate_limits=limits)


def test_sign_ups_are_throttled_per_address_taken_or_not_and_per_ip(strict: MailedServer):
    tenant = open_tenant(strict)
    issuer = strict.make.issuer(tenant)
    owner = strict.make.user(tenant)
    with requests.Session() as http:
        for address in (owner.email, "stranger@example.com"):
            statuses = [sign_up(http, issuer, address).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]
        over = sign_up(http, issuer, "third@example.com")  # the sixth from this IP
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert "Too many attempts" in over.text
    assert len(strict.mails_to(owner.email, 2)) == 2


def test_the_pages_and_the_mail_speak_the_persons_language(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        http.headers["Accept-Language"] = "fr-CA, en;q=0.5"
        page = http.get(f"{issuer}/signup")
        assert '<label for="given_name">Prénom</label>' in page.text
        sent = sign_up(http, issuer, "amelie@example.com")
        assert "Consultez votre messagerie" in sent.text
    [mail] = mailed.mails_to("amelie@example.com", 1)
    assert mail["Subject"] == "Confirmez votre adresse e-mail pour Test tenant"


def test_discovery_lists_the_attribute_claims_and_their_scopes(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    for url in (
        f"{issuer}/.well-known/openid-configuration",
        f"{mailed.live.url}/.well-known/oauth-authorization-server/t/{tenant.slug}",
    ):
        metadata = requests.get(url, timeout=10).json()
        assert {"company", "seats", "newsletter", "internal_ref"} <= set(
            metadata["claims_supported"]
        )
        assert metadata["scopes_supported"].count("organisation") == 1
        assert metadata["scopes_supported"].count("profile") == 1
