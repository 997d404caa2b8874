"""Every hosted page passes axe-core's WCAG A/AA checks in Chromium with no serious or critical
violation, in English and in French, in its plain state and with errors shown (issue 9 §7)."""

from __future__ import annotations

from urllib.parse import urlencode

import pyotp
import pytest
from PIL import Image

from idp.models.sessions import Consent
from idp.services.accounts.one_time_links import (
    CHANGE_EMAIL,
    MAGIC_LINK,
    RESET_PASSWORD,
    VERIFY_EMAIL,
    issue_link,
)
from idp.services.tenancy.tenant_settings import update_settings
from tests.support.accessibility import assert_accessible
from tests.support.account import set_tenant_columns
from tests.support.browser import PASSWORD, REDIRECT, code_request, pkce_pair
from tests.support.factories import Factory
from tests.support.federation import add_provider, federated_scene
from tests.support.passkeys import add_stored_passkey

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


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_magic_link_pages_are_accessible(context, services, make: Factory):
    tenant = make.tenant()
    policies = {"sign_in_methods": ["password", "magic_link"]}
    update_settings(services.uow(), tenant.slug, {}, policies, services.settings.tokens)
    services.tenant_cache.forget(tenant.slug)
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    page = context.new_page()
    page.goto(f"{issuer}/login")
    page.locator("ul.links a").first.click()
    page.wait_for_url(f"{issuer}/magic")
    assert_accessible(page)  # the address form
    page.locator("#email").fill("someone@localhost")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)  # with its error
    page.locator("#email").fill(person.email)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/magic/code")
    assert_accessible(page)  # check your mail, and the code
    page.locator("#code").fill("000000")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)  # a wrong code
    page.goto(f"{issuer}/magic/link?token=not-a-link")
    assert_accessible(page)  # the link is gone
    with services.uow() as uow:
        user = uow.users.by_email(tenant.id, person.email)
        token = issue_link(uow, tenant.id, user.id, MAGIC_LINK, {"browser": "another"})
        uow.commit()
    page.goto(f"{issuer}/magic/link?token={token}")
    assert_accessible(page)  # asked in another browser: the confirm button
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert_accessible(page)  # the code to type there
    page.goto(f"{make.issuer(make.tenant())}/magic")
    assert_accessible(page)  # a tenant that sends no links


def test_account_pages_are_accessible(context, services, make: Factory, tmp_path):
    tenant = make.tenant()
    set_tenant_columns(
        services,
        tenant,
        account_deletion=True,
        profile_attributes=[{"name": "company", "label": "Company", "required": True}],
    )
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    make.user(tenant, email=f"other-{person.email}", password=PASSWORD)
    app = make.client(
        tenant, name="Shop", grant_types=("authorization_code",), redirect_uris=(REDIRECT,),
        scopes=("openid", "profile"),
    )  # fmt: skip
    with services.uow() as uow:
        user = uow.users.by_email(tenant.id, person.email)
        uow.session.add(
            Consent(tenant_id=tenant.id, user_id=user.id, client_id=app.client.client_id,
                    scopes=["openid", "profile"])
        )  # fmt: skip
        uow.commit()
    page = context.new_page()
    page.goto(f"{issuer}/account")
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/account")
    assert_accessible(page)  # the account page, with a connected app
    picture = tmp_path / "me.png"
    Image.new("RGB", (40, 40), (10, 10, 10)).save(picture, format="PNG")
    page.locator("#picture").set_input_files(str(picture))
    page.locator("form[action$='/account/picture'] button").click()
    page.wait_for_url(f"{issuer}/account?done=picture")
    assert_accessible(page)  # with the picture and the notice
    not_an_image = tmp_path / "not.png"
    not_an_image.write_bytes(b"not an image")
    page.locator("#picture").set_input_files(str(not_an_image))
    page.locator("form[action$='/account/picture'] button").click()
    page.wait_for_load_state()
    assert page.locator("#picture-error").count() == 1
    assert_accessible(page)  # the picture's error
    profile = page.locator("form[action$='/account/profile']")
    profile.evaluate("form => { form.noValidate = true; }")  # let the server say what is wrong
    page.locator("#given_name").fill("x" * 101)
    profile.locator("button").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)  # with the profile's errors (the company is required)
    page.locator("#new_email").fill(f"new-{person.email}")
    page.locator("#email_password").fill("not the password")
    page.locator("form[action$='/account/email'] button").click()
    page.wait_for_load_state()
    assert_accessible(page)  # the e-mail form's error
    with services.uow() as uow:
        user = uow.users.by_email(tenant.id, person.email)
        token = issue_link(uow, tenant.id, user.id, CHANGE_EMAIL, {"email": f"new-{person.email}"})
        uow.commit()
    page.goto(f"{issuer}/email/confirm?token={token}")
    assert_accessible(page)  # the confirmation
    page.goto(f"{issuer}/email/confirm?token=not-a-link")
    assert_accessible(page)  # the link is gone
    page.goto(f"{issuer}/account/callback?state=forged")
    assert_accessible(page)  # a refused sign-in
    page.goto(f"{issuer}/account/password")
    assert_accessible(page)  # password change, signed in
    page.goto(f"{issuer}/account/delete")
    assert_accessible(page)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert_accessible(page)  # goodbye
    closed = make.tenant()
    stays = make.user(closed, password=PASSWORD)
    page.goto(f"{make.issuer(closed)}/account/delete")
    page.locator("#email").fill(stays.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{make.issuer(closed)}/account/delete")
    assert page.locator("h1").inner_text() != ""
    assert_accessible(page)  # deletion is closed at this tenant


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_second_factor_pages_are_accessible(context, services, make: Factory):
    tenant = make.tenant()
    set_tenant_columns(services, tenant, mfa_policy="optional")
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    issued = make.client(
        tenant, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    page = context.new_page()
    page.goto(f"{issuer}/account")
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/account")
    assert_accessible(page)  # the account page's two-step section, not set up
    page.goto(f"{issuer}/account/totp")
    assert_accessible(page)  # QR code, secret, first code
    page.locator("#code").fill("000000")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)  # the wrong first code
    secret = page.locator("#totp-secret").inner_text()
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("ul.recovery-codes li").count() == 10
    assert_accessible(page)  # the recovery codes, shown once
    page.locator("a.button").click()
    page.wait_for_url(f"{issuer}/account?done=totp")
    assert_accessible(page)  # the two-step section, set up
    page.goto(f"{issuer}/account/totp/remove")
    assert_accessible(page)  # turning it off (the sign-in is fresh)
    context.clear_cookies()
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="ok"))
    _, challenge = pkce_pair()
    params = code_request(issued.client.client_id, challenge, scope="openid")
    page.goto(f"{issuer}/authorize?{urlencode(params)}")
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/mfa**")
    assert_accessible(page)  # the second step
    page.locator("#code").fill("000000")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".message").count() == 1
    assert_accessible(page)  # a wrong code


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_passkey_pages_are_accessible(context, services, make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    issued = make.client(
        tenant, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    page = context.new_page()
    page.goto(f"{issuer}/account")
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/account")
    page.goto(f"{issuer}/account/passkeys/new")
    assert_accessible(page)  # naming and adding a passkey
    # A stored passkey (the ceremony itself is tested in test_passkeys_browser.py).
    add_stored_passkey(services, tenant, person.subject, "Laptop")
    page.goto(f"{issuer}/account")
    assert_accessible(page)  # the passkey section, with one
    page.locator("ul.passkeys a").click()
    page.wait_for_url(f"{issuer}/account/passkeys/*/remove")
    assert_accessible(page)  # removing it (the sign-in is fresh)
    set_tenant_columns(services, tenant, mfa_policy="optional")  # the passkey is due after
    context.clear_cookies()
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="ok"))
    _, challenge = pkce_pair()
    params = code_request(issued.client.client_id, challenge, scope="openid")
    page.goto(f"{issuer}/authorize?{urlencode(params)}")
    assert_accessible(page)  # the login page with its passkey button
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{issuer}/mfa**")
    assert page.locator("button[data-passkey=second]").is_visible()
    assert_accessible(page)  # the second step offering the passkey


@pytest.mark.parametrize("context", LANGUAGES, indirect=True)
def test_federation_pages_are_accessible(context, make: Factory, upstream_idp):
    """The provider buttons (Google's and GitHub's icons, a provider without one), the login
    page back from a cancelled upstream, proving and confirming a link, and the account page's
    connected providers (issue 11)."""
    scene = federated_scene(make, upstream_idp)
    for kind in ("google", "github"):
        add_provider(
            make.services,
            scene.tenant,
            kind=kind,
            slug=kind,
            display_name=kind.capitalize() if kind == "google" else "GitHub",
            client_id="unused",
            issuer="https://accounts.google.com",
        )
    owner = make.user(scene.tenant, email="owner@example.org", password=PASSWORD)
    scene.upstream.person("owner@example.org", verified=False)
    page = context.new_page()
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="ok"))
    url, _ = scene.authorize_url()
    page.goto(url)
    assert page.locator(".providers a").count() == 3
    assert_accessible(page)  # the login page with its buttons
    page.goto(f"{scene.issuer}/signup")
    assert_accessible(page)  # the sign-up page with its buttons
    page.goto(f"{scene.issuer}/login?federation=access_denied")
    assert_accessible(page)  # back from a cancelled upstream
    page.goto(url)
    page.locator(".providers a").first.click()
    page.wait_for_url(f"{scene.upstream.issuer}/login**")
    page.locator("#email").fill(owner.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{scene.issuer}/federation/link**")
    assert_accessible(page)  # prove the account
    page.locator("#password").fill("not the password")
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert_accessible(page)  # with its error
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{scene.issuer}/federation/link**")
    assert_accessible(page)  # confirm the link
    page.locator("button[value=link]").click()
    page.wait_for_url(f"{scene.issuer}/consent**")
    page.goto(f"{scene.issuer}/account")
    assert page.locator("#providers-title").count() == 1
    assert_accessible(page)  # the account page's connected providers
