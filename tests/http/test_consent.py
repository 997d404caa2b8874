"""The consent page: the client's logo and name, scopes in plain words, first-party clients that
skip it, and `offline_access`, which needs consent of its own (OIDC Core §11)."""

from __future__ import annotations

import pytest

from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    code_request,
    pkce_pair,
    query_of,
    redeem,
)

LOGO = "https://cdn.rp.example.com/logo.png"


def code_client(make, tenant, skip_consent=False, logo_uri=None, **spec):
    """A code-flow client; first-party and logo settings are written to its row, so these tests
    need no management surface for them."""
    issued = make.client(
        tenant,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT,),
        **spec,
    )
    with make.services.uow() as uow:
        row = uow.clients.get(tenant.id, issued.client.client_id)
        row.skip_consent, row.logo_uri = skip_consent, logo_uri
        uow.commit()
    return issued


@pytest.fixture
def offline_rp(make, module_tenant):
    """A client that may ask for refresh tokens with offline_access."""
    return code_client(make, module_tenant, scopes=("openid", "profile", "offline_access"))


def consent_url(browser, issued, person, **extra):
    _, challenge = pkce_pair()
    started = browser.authorize(**code_request(issued.client.client_id, challenge, **extra))
    after_login = browser.sign_in(started.headers["Location"], person.email, PASSWORD)
    location = after_login.headers["Location"]
    assert location.startswith(f"{browser.issuer}/consent?txn="), location
    return location


def granted_scope(browser, http, issued, person, consent=True, **extra):
    """The scope of the tokens a run of the flow ends with."""
    verifier, challenge = pkce_pair()
    params = browser.run(
        person.email, PASSWORD, consent, **code_request(issued.client.client_id, challenge, **extra)
    )
    body = redeem(
        http, browser.issuer, issued.client.client_id, issued.secret, params["code"], verifier
    )
    return body["scope"]


def test_the_consent_page_shows_the_logo_name_and_scopes_in_words(
    browser, make, module_tenant, person
):
    issued = code_client(
        make,
        module_tenant,
        name="Photo <Frames>",
        scopes=("openid", "profile", "email"),
        logo_uri=LOGO,
    )
    page = browser.get(consent_url(browser, issued, person, scope="openid profile email"))
    assert f'<img src="{LOGO}" alt="Photo &lt;Frames&gt; logo"' in page.text
    assert "<h1>Photo &lt;Frames&gt; wants to</h1>" in page.text
    for words in ("Know who you are on this site", "See your name and profile picture"):
        assert f"<li>{words}</li>" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.rp.example.com" in csp
    assert "form-action 'self' https://rp.example.com" in csp


def test_a_logo_not_served_over_https_is_left_out(browser, make, module_tenant, person):
    issued = code_client(
        make, module_tenant, scopes=("openid",), logo_uri="http://cdn.rp.example.com/logo.png"
    )
    page = browser.get(consent_url(browser, issued, person, scope="openid"))
    assert "<img" not in page.text
    assert "cdn.rp.example.com" not in page.headers["Content-Security-Policy"]


def test_a_first_party_client_never_shows_the_consent_page(
    browser, http, make, module_tenant, person
):
    first_party = code_client(
        make, module_tenant, scopes=("openid", "profile", "offline_access"), skip_consent=True
    )
    # Not even with prompt=consent; and offline_access needs no page of its own either.
    scope = granted_scope(
        browser,
        http,
        first_party,
        person,
        consent=False,
        scope="openid profile offline_access",
        prompt="consent",
    )
    assert scope == "openid profile offline_access"


def test_offline_access_is_dropped_without_interactive_consent(browser, http, offline_rp, person):
    # The person allows openid and profile for good.
    assert granted_scope(browser, http, offline_rp, person, scope="openid profile") == (
        "openid profile"
    )
    # Silently, offline_access is not granted: the code comes without it.
    silent = granted_scope(
        browser, http, offline_rp, person, scope="openid profile offline_access", prompt="none"
    )
    assert silent == "openid profile"
    # Interactively, the consent page asks for it; approved once, not remembered, it is granted.
    url = consent_url(
        browser, offline_rp, person, scope="openid profile offline_access", prompt="login"
    )
    assert "Keep access while you are not using it" in browser.get(url).text
    back = browser.consent(url, remember=False)
    assert "code" in query_of(back.headers["Location"])
    # Not remembered: a silent request still goes without it.
    again = granted_scope(
        browser, http, offline_rp, person, scope="openid profile offline_access", prompt="none"
    )
    assert again == "openid profile"


def test_offline_access_once_remembered_is_granted_silently(browser, http, offline_rp, person):
    scope = "openid offline_access"
    assert granted_scope(browser, http, offline_rp, person, scope=scope) == scope
    assert granted_scope(browser, http, offline_rp, person, scope=scope, prompt="none") == scope


def test_a_remembered_consent_skips_the_page_unless_prompt_consent(
    browser, make, module_tenant, person
):
    """Remembered per person and client; `prompt=consent` asks again all the same."""
    client = code_client(make, module_tenant, scopes=("openid", "profile"))
    _, challenge = pkce_pair()
    browser.run(
        person.email,
        PASSWORD,
        **code_request(client.client.client_id, challenge, scope="openid profile"),
    )

    again = browser.authorize(
        **code_request(client.client.client_id, challenge, scope="openid profile")
    )
    assert again.headers["Location"].startswith(REDIRECT + "?")
    assert "code" in query_of(again.headers["Location"])

    forced = browser.authorize(
        **code_request(client.client.client_id, challenge, scope="openid profile", prompt="consent")
    )
    assert forced.headers["Location"].startswith(f"{browser.issuer}/consent?")
