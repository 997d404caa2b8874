"""Passkeys in Chromium (issue 10 §2) with its virtual authenticator (DevTools WebAuthn
domain): a person adds a passkey on the account page, then signs in to a client with it alone
(no e-mail typed) or after their password on the /mfa step, and ends at the client with an ID
token whose `amr` and `acr` say so; a passkey removed on the account page is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.support.account import set_tenant_columns
from tests.support.backends import Backend
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
from tests.support.passkeys import localhost_services, virtual_authenticator


@pytest.fixture(scope="module")
def local(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factory]:
    for services, url in localhost_services(backend, tmp_path_factory.mktemp("passkeys")):
        yield Factory(services, url)


def _person_and_client(make: Factory, **policies: Any) -> tuple[Any, str, Any, Any]:
    tenant = make.tenant()
    if policies:
        set_tenant_columns(make.services, tenant, **policies)
    person = make.user(tenant, password=PASSWORD)
    rp = make.client(
        tenant,
        name="Shop",
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "email"),
    )
    return tenant, make.issuer(tenant), person, rp


def _add_passkey(page: Any, issuer: str, email: str, name: str) -> None:
    """Sign in with the password on the account page and add a passkey named `name`."""
    page.goto(f"{issuer}/account")
    page.wait_for_url(f"{issuer}/login?txn=**")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/account")
    page.get_by_role("link", name="Add a passkey").click()
    page.wait_for_url(f"{issuer}/account/passkeys/new")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{issuer}/account?done=passkey")
    assert page.get_by_role("link", name=f"Remove “{name}”").count() == 1


def _open_authorization(page: Any, issuer: str, client_id: str) -> str:
    """Start the client's authorization request; the PKCE verifier."""
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="ok"))
    verifier, challenge = pkce_pair()
    params = code_request(client_id, challenge, scope="openid email")
    page.goto(f"{issuer}/authorize?{urlencode(params)}")
    page.wait_for_url(f"{issuer}/login?txn=**")
    return verifier


def _claims_at_client(page: Any, issuer: str, rp: Any, verifier: str) -> dict[str, Any]:
    page.wait_for_url(f"{issuer}/consent?txn=**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")
    code = query_of(page.url)["code"]
    with requests.Session() as http:
        body = redeem(http, issuer, rp.client.client_id, rp.secret or "", code, verifier)
        return verified_claims(http, issuer, body["id_token"])


def test_add_a_passkey_then_sign_in_with_it_alone(chromium: Any, local: Factory):
    _, issuer, person, rp = _person_and_client(local)
    context = chromium.new_context()
    page = context.new_page()
    virtual_authenticator(context, page)
    _add_passkey(page, issuer, person.email, "Laptop")
    context.clear_cookies()  # signed out; the authenticator keeps its passkey

    verifier = _open_authorization(page, issuer, rp.client.client_id)
    page.get_by_role("button", name="Use a passkey").click()
    claims = _claims_at_client(page, issuer, rp, verifier)
    context.close()
    # A device-bound credential verified with the person's PIN or biometric: two factors,
    # phishing-resistant (acr "3", services/tokens/claims.py).
    assert (claims["amr"], claims["acr"]) == (["hwk", "user", "mfa"], "3")
    assert claims["sub"] == person.subject


def test_a_synced_passkey_is_a_software_key(chromium: Any, local: Factory):
    _, issuer, person, rp = _person_and_client(local)
    context = chromium.new_context()
    page = context.new_page()
    virtual_authenticator(context, page, synced=True)
    _add_passkey(page, issuer, person.email, "Phone")
    context.clear_cookies()

    verifier = _open_authorization(page, issuer, rp.client.client_id)
    page.get_by_role("button", name="Use a passkey").click()
    claims = _claims_at_client(page, issuer, rp, verifier)
    context.close()
    # Backup eligible: the key may live on other devices too (RFC 8176 `swk`, not `hwk`).
    assert (claims["amr"], claims["acr"]) == (["swk", "user", "mfa"], "3")


def test_passkey_as_the_second_factor_after_a_password(chromium: Any, local: Factory):
    _, issuer, person, rp = _person_and_client(local, mfa_policy="optional")
    context = chromium.new_context()
    page = context.new_page()
    virtual_authenticator(context, page)
    _add_passkey(page, issuer, person.email, "Phone")
    context.clear_cookies()

    verifier = _open_authorization(page, issuer, rp.client.client_id)
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/mfa?txn=**")
    page.get_by_role("button", name="Use a passkey").click()
    claims = _claims_at_client(page, issuer, rp, verifier)
    context.close()
    assert (claims["amr"], claims["acr"]) == (["pwd", "hwk", "user", "mfa"], "3")


def test_a_removed_passkey_is_refused(chromium: Any, local: Factory):
    _, issuer, person, rp = _person_and_client(local)
    context = chromium.new_context()
    page = context.new_page()
    virtual_authenticator(context, page)
    _add_passkey(page, issuer, person.email, "Old key")
    page.get_by_role("link", name="Remove “Old key”").click()
    page.get_by_role("button", name="Remove it").click()
    page.wait_for_url(f"{issuer}/account?done=passkey_removed")
    assert page.get_by_role("link", name="Remove “Old key”").count() == 0
    context.clear_cookies()

    _open_authorization(page, issuer, rp.client.client_id)
    page.get_by_role("button", name="Use a passkey").click()
    refusal = page.get_by_role("status").filter(has_text="could not be used")
    refusal.wait_for()
    assert page.url.startswith(f"{issuer}/login?txn=")
    context.close()
