"""OIDC Core §3.1.2.1 request parameters: prompt=select_account, login_hint, id_token_hint and
ui_locales, each through the real pages of a live server, as a browser and the client see them."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime

import pytest

from idp.crypto.jwt import sign
from idp.oauth.authorize import pick_ui_locale
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    code_request,
    pkce_pair,
    query_of,
    redeem,
    verified_claims,
)


@pytest.fixture
def signed_in(browser, rp, person):
    """The browser has a session for `person`, who has consented to `rp`."""
    _, challenge = pkce_pair()
    assert "code" in browser.run(
        person.email, PASSWORD, **code_request(rp.client.client_id, challenge)
    )
    return browser


def start(browser, rp, **extra):
    """(response, verifier) of an authorization request with PKCE."""
    verifier, challenge = pkce_pair()
    return browser.authorize(**code_request(rp.client.client_id, challenge, **extra)), verifier


def redirected_error(response):
    assert response.status_code == 303, response.text
    assert response.headers["Location"].startswith(REDIRECT + "?")
    params = query_of(response.headers["Location"])
    assert params["state"] == "st-123"
    return params["error"]


def subject_of(http, issuer, rp, params, verifier):
    tokens = redeem(http, issuer, rp.client.client_id, rp.secret, params["code"], verifier)
    return verified_claims(http, issuer, tokens["id_token"])["sub"]


def id_token(make, tenant, **claims):
    """An ID token signed with the tenant's key, as the token endpoint would make it."""
    now = int(time.time())
    ring = make.services.key_cache.ring(tenant.id)
    key = ring.signer("RS256", datetime.now(UTC))
    body = {"iss": make.issuer(tenant), "iat": now, "exp": now + 300, "acr": "1"} | claims
    return sign(body, key, "JWT")


# prompt=select_account


def test_the_chooser_shows_the_account_and_continuing_issues_a_code(signed_in, rp, person, http):
    started, verifier = start(signed_in, rp, prompt="select_account")
    chooser = started.headers["Location"]
    assert chooser.startswith(f"{signed_in.issuer}/select_account?txn=")
    page = signed_in.get(chooser)
    assert f"Continue as {person.email}" in page.text
    assert "Use another account" in page.text
    params = query_of(
        signed_in.follow(signed_in.choose_account(chooser, "current")).headers["Location"]
    )
    assert subject_of(http, signed_in.issuer, rp, params, verifier) == person.subject


def test_using_another_account_signs_in_and_replaces_the_session(
    signed_in, rp, make, module_tenant, http
):
    other = make.user(module_tenant, password=PASSWORD)
    started, verifier = start(signed_in, rp, prompt="select_account")
    chosen = signed_in.follow(signed_in.choose_account(started.headers["Location"], "another"))
    login = chosen.headers["Location"]
    assert login.startswith(f"{signed_in.issuer}/login?txn=")  # a fresh sign-in is required
    consent = signed_in.sign_in(login, other.email, PASSWORD).headers["Location"]
    assert consent.startswith(f"{signed_in.issuer}/consent?")  # no second chooser
    params = query_of(signed_in.consent(consent).headers["Location"])
    assert subject_of(http, signed_in.issuer, rp, params, verifier) == other.subject
    # The session now belongs to the other account.
    again, verifier = start(signed_in, rp, prompt="none")
    assert subject_of(
        http, signed_in.issuer, rp, query_of(again.headers["Location"]), verifier
    ) == (other.subject)


def test_without_a_session_select_account_goes_straight_to_login(browser, rp, person):
    started, _ = start(browser, rp, prompt="select_account")
    login = started.headers["Location"]
    assert login.startswith(f"{browser.issuer}/login?txn=")
    after = browser.sign_in(login, person.email, PASSWORD)
    assert after.headers["Location"].startswith(f"{browser.issuer}/consent?")


def test_prompt_none_with_select_account_is_invalid(signed_in, rp):
    started, _ = start(signed_in, rp, prompt="none select_account")
    assert redirected_error(started) == "invalid_request"


# login_hint


def test_login_hint_fills_in_the_email(browser, rp, person):
    started, _ = start(browser, rp, login_hint=person.email.upper())
    page = browser.get(started.headers["Location"])
    assert f'value="{person.email}"' in page.text  # normalised as accounts are


def test_a_login_hint_that_is_no_address_is_never_echoed(browser, rp):
    hint = '"><script>alert(1)</script>@x'
    started, _ = start(browser, rp, login_hint=hint)
    page = browser.get(started.headers["Location"])
    assert "<script>" not in page.text and html.escape(hint) not in page.text
    assert 'id="email" name="email" type="email" value=""' in page.text


def test_a_too_long_login_hint_is_invalid(browser, rp):
    started, _ = start(browser, rp, login_hint="a" * 600 + "@example.com")
    assert redirected_error(started) == "invalid_request"


def test_login_hint_for_someone_else_needs_a_sign_in(signed_in, rp, person, make, module_tenant):
    other = make.user(module_tenant, password=PASSWORD)
    silent, _ = start(signed_in, rp, prompt="none", login_hint=other.email)
    assert redirected_error(silent) == "login_required"
    same, _ = start(signed_in, rp, prompt="none", login_hint=person.email)
    assert "code" in query_of(same.headers["Location"])
    started, _ = start(signed_in, rp, login_hint=other.email)
    page = signed_in.get(started.headers["Location"])
    assert "<h1>Sign in</h1>" in page.text and f'value="{other.email}"' in page.text


# id_token_hint


def test_a_valid_id_token_hint_even_expired_gets_a_code(
    signed_in, rp, person, make, module_tenant, http
):
    hint = id_token(
        make, module_tenant, sub=person.subject, aud=rp.client.client_id, exp=int(time.time()) - 60
    )
    started, verifier = start(signed_in, rp, prompt="none", id_token_hint=hint)
    params = query_of(started.headers["Location"])
    assert subject_of(http, signed_in.issuer, rp, params, verifier) == person.subject


@pytest.mark.parametrize("flaw", ["tampered", "other client", "other issuer", "access token"])
def test_an_invalid_id_token_hint_is_invalid_request(
    signed_in, rp, person, make, module_tenant, flaw
):
    claims = {"sub": person.subject, "aud": rp.client.client_id}
    if flaw == "other client":
        claims["aud"] = "someone-else"
    if flaw == "other issuer":
        claims["iss"] = "https://evil.example.com"
    hint = id_token(make, module_tenant, **claims)
    if flaw == "tampered":
        head, body, signature = hint.split(".")
        hint = f"{head}.{body}.{signature[:-4]}AAAA"
    if flaw == "access token":
        now = int(time.time())
        key = make.services.key_cache.ring(module_tenant.id).signer("RS256", datetime.now(UTC))
        hint = sign({**claims, "iss": make.issuer(module_tenant), "exp": now + 60}, key, "at+jwt")
    started, _ = start(signed_in, rp, id_token_hint=hint)
    assert redirected_error(started) == "invalid_request"


def test_an_id_token_hint_for_another_person(signed_in, rp, person, make, module_tenant):
    other = make.user(module_tenant, password=PASSWORD)
    hint = id_token(make, module_tenant, sub=other.subject, aud=rp.client.client_id)
    silent, _ = start(signed_in, rp, prompt="none", id_token_hint=hint)
    assert redirected_error(silent) == "login_required"
    # Interactive: a sign-in is required, and signing in as someone else is refused.
    started, _ = start(signed_in, rp, id_token_hint=hint)
    login = started.headers["Location"]
    assert login.startswith(f"{signed_in.issuer}/login?txn=")
    refused = signed_in.sign_in(login, person.email, PASSWORD)
    assert redirected_error(refused) == "login_required"


# ui_locales


@pytest.mark.parametrize(
    ("asked", "chosen"),
    [
        ("en", "en"),
        ("de-CH en-GB", "en"),
        ("EN-us", "en"),
        ("fr-CA en", "fr"),
        ("de it", None),
        ("", None),
    ],
)
def test_the_first_supported_ui_locale_is_chosen(asked, chosen):
    assert pick_ui_locale(asked) == chosen


def test_ui_locales_set_the_language_of_the_pages(browser, rp, http):
    metadata = http.get(f"{browser.issuer}/.well-known/openid-configuration").json()
    assert metadata["ui_locales_supported"] == ["en", "fr"]
    started, _ = start(browser, rp, ui_locales="de-CH en-GB", claims_locales="de")
    page = browser.get(started.headers["Location"])
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    started, _ = start(browser, rp, ui_locales="de fr-CA en")
    page = browser.get(started.headers["Location"])
    assert '<html lang="fr">' in page.text
    assert "<h1>Se connecter</h1>" in page.text
