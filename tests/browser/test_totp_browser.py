"""TOTP in Chromium (issue 10 §1): a person sets up an authenticator app on the account page,
reading the secret off the page as they would type it into their app, keeps the recovery
codes, then signs in to a client with password + TOTP and ends at the client with an ID
token that says so."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pyotp
import requests

from tests.support.account import set_tenant_columns
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    code_request,
    pkce_pair,
    query_of,
    redeem,
    verified_claims,
)
from tests.support.factories import Factory


def test_enrol_on_the_account_page_then_sign_in_with_password_and_totp(
    chromium: Any, make: Factory
):
    tenant = make.tenant()
    set_tenant_columns(make.services, tenant, mfa_policy="optional")
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    rp = make.client(
        tenant,
        name="Shop",
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "email"),
    )

    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{issuer}/account")
    page.wait_for_url(f"{issuer}/login?txn=**")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/account")
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url(f"{issuer}/account/totp")
    assert page.get_by_role("img", name="Scan this QR code with your authenticator app:").count()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Your recovery codes"
    assert page.locator("ul.recovery-codes li").count() == 10
    page.get_by_role("link", name="I have saved them, continue").click()
    page.wait_for_url(f"{issuer}/account?done=totp")
    assert page.get_by_text("You have 10 unused recovery codes.").count() == 1
    context.close()

    # Another browser: the client's authorization request asks for the second factor.
    context = chromium.new_context()
    page = context.new_page()
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="ok"))
    verifier, challenge = pkce_pair()
    params = code_request(rp.client.client_id, challenge, scope="openid email")
    page.goto(f"{issuer}/authorize?{urlencode(params)}")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/mfa?txn=**")
    # The step after the one enrolment used: a code is accepted once.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{issuer}/consent?txn=**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")
    code = query_of(page.url)["code"]
    context.close()

    with requests.Session() as http:
        body = redeem(http, issuer, rp.client.client_id, rp.secret or "", code, verifier)
        claims = verified_claims(http, issuer, body["id_token"])
    assert (claims["amr"], claims["acr"]) == (["pwd", "otp", "mfa"], "2")
