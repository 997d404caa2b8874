"""The account page is a first-party client of its tenant (DESIGN §13, issue 9 §6): without a
session it makes a real authorization request (code, PKCE, state) for the built-in `account`
client, the person signs in on the login page, and the callback lands on the page asked for."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from idp.services.accounts.account_client import ACCOUNT_CLIENT_ID, ensure_account_client
from idp.services.container import Services
from idp.services.oauth_clients.clients import find_client
from tests.support.account import open_account, signed_in_account
from tests.support.browser import Browser, query_of
from tests.support.factories import Factory
from tests.support.server import LiveServer


def _to_callback(http: requests.Session, issuer: str, email: str) -> str:
    """Start at /account and sign in; the callback URL the authorization endpoint sent us to."""
    browser = Browser(http, issuer)
    start = browser.get(f"{issuer}/account")
    login = browser.follow(start)
    response = browser.sign_in(login.headers["Location"], email, "correct horse battery")
    for _ in range(4):
        location = response.headers["Location"]
        if urlsplit(location).path.endswith("/account/callback"):
            return location
        response = browser.get(location)
    raise AssertionError("no callback")


def test_the_round_trip_lands_on_the_page_asked_for(make: Factory, http: requests.Session):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, name="Ada Lovelace", password="correct horse battery")
    start = http.get(f"{issuer}/account/password?ui_locales=en", allow_redirects=False)
    assert start.status_code == 303
    asked = query_of(start.headers["Location"])
    assert start.headers["Location"].startswith(f"{issuer}/authorize?")
    assert asked["client_id"] == "account" and asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"] == f"{issuer}/account/callback" and asked["state"]
    page = open_account(http, issuer, person.email, "/account/password?ui_locales=en")
    assert page.status_code == 200 and "Change your password" in page.text
    assert page.url == f"{issuer}/account/password?ui_locales=en"
    # Signed in now: the account page opens straight away, and shows the person.
    again = http.get(f"{issuer}/account", allow_redirects=False)
    assert again.status_code == 200 and person.email in again.text


def test_a_forged_or_replayed_state_is_refused(make: Factory, http: requests.Session):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password="correct horse battery")
    callback = _to_callback(http, issuer, person.email)
    params = query_of(callback)
    forged = http.get(
        f"{issuer}/account/callback",
        params={"code": params["code"], "state": "forged"},
        allow_redirects=False,
    )
    assert forged.status_code == 400 and "could not sign you in" in forged.text
    # The forged attempt cleared this browser's state: the genuine response is refused too.
    replay = http.get(callback, allow_redirects=False)
    assert replay.status_code == 400


def test_a_callback_from_another_browser_is_refused(make: Factory, http: requests.Session):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password="correct horse battery")
    callback = _to_callback(http, issuer, person.email)
    with requests.Session() as stranger:
        lifted = stranger.get(callback, allow_redirects=False)
        assert lifted.status_code == 400
        assert stranger.get(f"{issuer}/account", allow_redirects=False).status_code == 303
    # The code is single use: the stranger's try spent nothing of ours but the state check
    # failed before it; the genuine browser still completes.
    done = http.get(callback, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"].endswith("/account")


def test_missing_or_error_parameters_get_a_page_not_a_500(make: Factory, http: requests.Session):
    issuer = make.issuer(make.tenant())
    for query in ("", "?error=access_denied&state=x", "?code=" + "x" * 5000, "?state=&code="):
        response = http.get(f"{issuer}/account/callback{query}", allow_redirects=False)
        assert response.status_code == 400, query
        assert "text/html" in response.headers["Content-Type"]


def test_the_account_client_is_not_a_connected_app(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password="correct horse battery")
    with signed_in_account(issuer, person.email) as http:
        page = http.get(f"{issuer}/account")
        assert "No app has access to your account." in page.text


def test_another_tenants_session_never_works(make: Factory, server: LiveServer):
    first, second = make.tenant(), make.tenant()
    person = make.user(first, password="correct horse battery")
    with signed_in_account(make.issuer(first), person.email) as http:
        other = http.get(f"{make.issuer(second)}/account", allow_redirects=False)
        assert other.status_code == 303
        assert other.headers["Location"].startswith(f"{make.issuer(second)}/authorize?")
        # Nor does its cookie, sent by hand under the other tenant's cookie name.
        [cookie] = [c for c in http.cookies if c.name.startswith("idp_session_")]
        forged = requests.get(
            f"{make.issuer(second)}/account",
            cookies={f"idp_session_{second.slug}": cookie.value},
            allow_redirects=False,
            timeout=10,
        )
        assert forged.status_code == 303


def test_the_account_client_follows_the_public_url(make: Factory, services: Services):
    """Plain http on a private network is a public URL settings allow: the built-in client
    takes it (no https rule for our own redirect URI), and a changed URL is taken over."""
    tenant = make.tenant()
    ensure_account_client(services.uow(), tenant, "http://idp.internal:8000/t/x")
    ensure_account_client(services.uow(), tenant, "http://idp.internal:8000/t/x")  # idempotent
    client = find_client(services.uow(), tenant.id, ACCOUNT_CLIENT_ID)
    assert client is not None and client.skip_consent
    assert client.redirect_uris == ("http://idp.internal:8000/t/x/account/callback",)
    issuer = make.issuer(tenant)
    ensure_account_client(services.uow(), tenant, issuer)
    client = find_client(services.uow(), tenant.id, ACCOUNT_CLIENT_ID)
    assert client is not None and client.redirect_uris == (f"{issuer}/account/callback",)
