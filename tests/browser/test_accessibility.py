"""Every hosted page passes axe-core's WCAG A/AA checks in Chromium with no serious or critical
violation, in English and in French, in its plain state and with errors shown (issue 9 §7)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from idp.services.accounts.one_time_links import RESET_PASSWORD, VERIFY_EMAIL, issue_link
from idp.services.tenancy.tenant_settings import update_settings
from tests.support.accessibility import assert_accessible
from tests.support.browser import PASSWORD, REDIRECT, code_request, pkce_pair
from tests.support.factories import Factory

LANGUAGES = ("en", "fr")


@pytest.fixture
def context(chromium, request):
    """A browser context in the test's language; pages are reached as a person reaches them."""
    language = getattr(request, "param", "en")
    created = chromium.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}
    )
    yield created
    created.close()


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_sign_in_pages_are_accessible(context, make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    issued = make.client(
        tenant,
        name="Shop",
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email"),
    )
    page = context.new_page()
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="ok"))
    _, challenge = pkce_pair()
    params = code_request(issued.client.client_id, challenge, scope="openid profile email")
    page.goto(f"{issuer}/authorize?{urlencode(params)}")
    assert_accessible(page)  # the login page
    page.locator("#email").fill(person.email)
    page.locator("#password").fill("not the password")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert_accessible(page)  # the login page with its error
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/consent**")
    assert_accessible(page)  # consent


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_standalone_pages_are_accessible(context, server, services, make: Factory):
    tenant = make.tenant()
    # A light brand colour: buttons and links must still reach AA contrast.
    update_settings(
        services.uow(), tenant.slug, {"primary_color": "#ffd700"}, {}, services.settings.tokens
    )
    services.tenant_cache.forget(tenant.slug)
    issuer = make.issuer(tenant)
    page = context.new_page()
    for url in (
        f"{server.url}/",
        f"{issuer}/login",
        f"{issuer}/logout",  # no hint: the confirmation page
        f"{issuer}/authorize?client_id=unknown",  # a refused request: the error page
    ):
        page.goto(url)
        assert_accessible(page)


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_password_pages_are_accessible(context, services, make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    page = context.new_page()
    page.goto(f"{issuer}/password/forgot")
    assert_accessible(page)
    page.locator("#email").fill(person.email)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert_accessible(page)  # "if an account exists, we have sent a link"
    page.goto(f"{issuer}/password/reset?token=not-a-link")
    assert_accessible(page)  # the link is gone
    with services.uow() as uow:
        user = uow.users.by_email(tenant.id, person.email)
        token = issue_link(uow, tenant.id, user.id, RESET_PASSWORD)
        uow.commit()
    page.goto(f"{issuer}/password/reset?token={token}")
    assert_accessible(page)
    page.locator("#password").fill("short")
    page.locator("#password_confirm").fill("different")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)  # with its error summary and fields in error
    page.goto(f"{issuer}/account/password")  # no session: the login page
    assert_accessible(page)


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_sign_up_and_verification_pages_are_accessible(context, server, services, make: Factory):
    closed = make.tenant()
    page = context.new_page()
    page.goto(f"{make.issuer(closed)}/signup")
    assert_accessible(page)  # sign-up is closed
    tenant = make.tenant()
    attributes = [
        {"name": "company", "label": "Company", "required": True},
        {"name": "seats", "label": "Seats", "type": "integer"},
        {"name": "newsletter", "label": "Newsletter", "type": "boolean", "required": True},
    ]
    policies = {
        "self_registration": True,
        "unverified_sign_in": False,
        "profile_attributes": attributes,
    }
    update_settings(services.uow(), tenant.slug, {}, policies, services.settings.tokens)
    services.tenant_cache.forget(tenant.slug)
    issuer = make.issuer(tenant)
    page.goto(f"{issuer}/signup")
    assert_accessible(page)
    # What the browser's own checks let through and ours refuse.
    page.locator("#email").fill("someone@localhost")
    page.locator("#password").fill("short")
    page.locator("#password_confirm").fill("short")
    page.locator("#given_name").fill("Ada")
    page.locator("#attributes-company").fill("Acme")
    page.locator("#attributes-seats").fill("3")
    page.locator("#attributes-newsletter").check()
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)  # with its error summary and fields in error
    page.locator("#email").fill("newcomer@example.com")
    for field in ("#password", "#password_confirm"):
        page.locator(field).fill(PASSWORD)
    assert page.locator("#attributes-newsletter").is_checked()  # kept, like the text fields
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert_accessible(page)  # check your mail
    page.goto(f"{issuer}/login")
    page.locator("#email").fill("newcomer@example.com")
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert page.locator("form").count() == 2
    assert_accessible(page)  # confirm your address first, with the offer of a new link
    page.goto(f"{issuer}/email/verify/resend")
    assert_accessible(page)
    page.locator("#email").fill("newcomer@example.com")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert_accessible(page)  # the same answer for every address
    page.goto(f"{issuer}/email/verify?token=not-a-link")
    assert_accessible(page)  # the link is gone
    with services.uow() as uow:
        user = uow.users.by_email(tenant.id, "newcomer@example.com")
        token = issue_link(uow, tenant.id, user.id, VERIFY_EMAIL, {"email": user.email})
        uow.commit()
    page.goto(f"{issuer}/email/verify?token={token}")
    assert_accessible(page)  # the confirm button
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/login?**")
    assert_accessible(page)  # the login page saying the address is confirmed
