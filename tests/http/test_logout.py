"""OpenID Connect RP-Initiated Logout 1.0 at {issuer}/logout, as a client and a browser see it:
who is signed out at once, who is asked first, and where nobody is ever redirected."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import requests

from idp.crypto.jwt import sign
from tests.support.browser import PASSWORD, REDIRECT, Browser, hidden_fields
from tests.support.logout import SIGNED_OUT, SignedIn, sign_in, silent_authorization

CONFIRM_HEADING = "<h1>Sign out of Test tenant?</h1>"


@pytest.fixture
def logout_rp(make, module_tenant):
    """An OpenID Connect client that registered where people go after signing out."""
    return make.client(
        module_tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        post_logout_redirect_uris=(SIGNED_OUT,),
        scopes=("openid", "profile", "email", "roles"),
    )


@pytest.fixture
def signed_in(browser, logout_rp, person) -> SignedIn:
    return sign_in(browser, logout_rp, person.email)


def logout(browser: Browser, **params: str) -> requests.Response:
    return browser.get(f"{browser.issuer}/logout", **params)


def session_cookie_name(module_tenant) -> str:
    return f"idp_session_{module_tenant.slug}"


def test_discovery_advertises_the_logout_endpoints(http, make, module_tenant):
    issuer = make.issuer(module_tenant)
    metadata = http.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["end_session_endpoint"] == f"{issuer}/logout"
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


def test_valid_hint_and_registered_uri_sign_out_and_redirect_with_state(
    browser, logout_rp, signed_in, module_tenant
):
    assert "code" in silent_authorization(browser, logout_rp)

    response = logout(
        browser,
        id_token_hint=signed_in.id_token,
        post_logout_redirect_uri=SIGNED_OUT,
        state="bye 1&2",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{SIGNED_OUT}?state=bye+1%262"
    cleared = response.headers["Set-Cookie"]
    assert cleared.startswith(f"{session_cookie_name(module_tenant)}=;")
    assert "Max-Age=0" in cleared
    assert silent_authorization(browser, logout_rp)["error"] == "login_required"

    # Ended on the server, not only forgotten by the browser: the old cookie is worthless.
    browser.http.cookies.set(session_cookie_name(module_tenant), signed_in.cookie)
    assert silent_authorization(browser, logout_rp)["error"] == "login_required"


def test_an_expired_hint_still_proves_the_session(
    browser, logout_rp, signed_in, services, module_tenant
):
    """§2: an ID token hint whose `exp` has passed is still accepted."""
    now = datetime.now(UTC)
    past = int(now.timestamp()) - 7200
    key = services.key_cache.ring(module_tenant.id).signer("RS256", now)
    expired = sign({**signed_in.claims, "iat": past, "exp": past + 300}, key, "JWT")

    response = logout(browser, id_token_hint=expired, post_logout_redirect_uri=SIGNED_OUT)
    assert (response.status_code, response.headers["Location"]) == (303, SIGNED_OUT)
    assert silent_authorization(browser, logout_rp)["error"] == "login_required"


@pytest.mark.parametrize(
    "uri",
    [
        f"{SIGNED_OUT}/",
        f"{SIGNED_OUT}?next=/",
        f"{SIGNED_OUT}#top",
        "https://RP.example.com/signed-out",
        "http://rp.example.com/signed-out",
        "https://attacker.example/signed-out",
        REDIRECT,  # registered, but for codes, not for after sign-out
    ],
)
def test_an_unregistered_or_variant_redirect_is_never_followed(browser, logout_rp, signed_in, uri):
    response = logout(browser, id_token_hint=signed_in.id_token, post_logout_redirect_uri=uri)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Sign-out request refused" in response.text
    assert "code" in silent_authorization(browser, logout_rp)  # nothing ended either


def test_a_redirect_needs_a_client_that_registered_it(
    browser, logout_rp, signed_in, make, module_tenant
):
    other = make.client(module_tenant, post_logout_redirect_uris=("https://other.example/out",))
    refused = [
        # The hint was issued to logout_rp: the client_id must agree (§2).
        {"id_token_hint": signed_in.id_token, "client_id": other.client.client_id},
        # No hint and no client_id: nobody registered the address.
        {"post_logout_redirect_uri": SIGNED_OUT},
        {"client_id": "no-such-client", "post_logout_redirect_uri": SIGNED_OUT},
        {"client_id": other.client.client_id, "post_logout_redirect_uri": SIGNED_OUT},
    ]
    for params in refused:
        response = logout(browser, **params)
        assert (response.status_code, "Location" in response.headers) == (400, False), params
    assert "code" in silent_authorization(browser, logout_rp)


def other_tenants_id_token(make) -> str:
    tenant = make.tenant()
    client = make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email", "roles"),
    )
    person = make.user(tenant, password=PASSWORD)
    with requests.Session() as http:
        return sign_in(Browser(http, make.issuer(tenant)), client, person.email).id_token


@pytest.mark.parametrize("hint", ["missing", "garbage", "tampered", "access token", "other tenant"])
def test_without_a_hint_we_trust_the_person_is_asked(
    browser, logout_rp, signed_in, make, module_tenant, hint
):
    header, _, signature = signed_in.id_token.split(".")
    # Another person's session, under our header and signature: the signature no longer matches.
    forged = json.dumps({**signed_in.claims, "sub": "someone-else"}).encode()
    payload = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    hints = {
        "missing": None,
        "garbage": "not.a.token",
        "tampered": f"{header}.{payload}.{signature}",
        "access token": signed_in.access_token,  # ours, signed by the same key: not an ID token
        "other tenant": other_tenants_id_token(make) if hint == "other tenant" else None,
    }
    params = {"id_token_hint": hints[hint]} if hints[hint] else {}

    page = logout(browser, **params)
    assert page.status_code == 200, page.text
    assert CONFIRM_HEADING in page.text
    fields = hidden_fields(page.text)
    assert fields["csrf_token"]
    assert '<button type="submit" name="decision" value="signout">Sign out</button>' in page.text
    assert 'name="decision" value="cancel" class="secondary">Cancel</button>' in page.text
    assert "<script" not in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "code" in silent_authorization(browser, logout_rp)


def confirmation(browser: Browser, **params: str) -> dict[str, str]:
    page = logout(browser, **params)
    assert page.status_code == 200 and CONFIRM_HEADING in page.text, page.text
    return hidden_fields(page.text)


def test_a_confirmation_without_the_csrf_token_is_refused(browser, logout_rp, signed_in):
    fields = confirmation(browser)
    forged = [
        {k: v for k, v in fields.items() if k != "csrf_token"},
        fields | {"csrf_token": "guessed"},
    ]
    for form in forged:
        response = browser.http.post(
            f"{browser.issuer}/logout", data=form | {"decision": "signout"}, allow_redirects=False
        )
        assert response.status_code == 400
        assert "This form has expired" in response.text
    assert "code" in silent_authorization(browser, logout_rp)


def test_a_confirmation_with_the_csrf_token_signs_out_and_redirects(browser, logout_rp, signed_in):
    page = logout(
        browser,
        client_id=logout_rp.client.client_id,
        post_logout_redirect_uri=SIGNED_OUT,
        state="s-1",
    )
    # The form's POST ends in a redirect to the client, which form-action must allow (CSP 3).
    assert "form-action 'self' https://rp.example.com" in page.headers["Content-Security-Policy"]
    assert "Test client asks to sign you out." in page.text
    fields = hidden_fields(page.text)
    assert fields["post_logout_redirect_uri"] == SIGNED_OUT and fields["state"] == "s-1"

    response = browser.http.post(
        f"{browser.issuer}/logout", data=fields | {"decision": "signout"}, allow_redirects=False
    )
    assert (response.status_code, response.headers["Location"]) == (303, f"{SIGNED_OUT}?state=s-1")
    assert silent_authorization(browser, logout_rp)["error"] == "login_required"


def test_a_confirmation_without_a_redirect_shows_the_signed_out_page(browser, logout_rp, signed_in):
    fields = confirmation(browser)
    response = browser.http.post(
        f"{browser.issuer}/logout", data=fields | {"decision": "signout"}, allow_redirects=False
    )
    assert response.status_code == 200
    assert "<h1>You are signed out</h1>" in response.text
    assert silent_authorization(browser, logout_rp)["error"] == "login_required"


def test_cancel_keeps_the_session(browser, logout_rp, signed_in):
    fields = confirmation(browser, client_id=logout_rp.client.client_id)
    response = browser.http.post(
        f"{browser.issuer}/logout", data=fields | {"decision": "cancel"}, allow_redirects=False
    )
    assert response.status_code == 200
    assert "<h1>You are signed in</h1>" in response.text
    assert "code" in silent_authorization(browser, logout_rp)


def test_a_client_may_post_the_request(browser, logout_rp, signed_in):
    """§2 allows POST; it is answered by the same request as a GET, which carries our
    SameSite=Lax cookie even when the POST came from the client's site."""
    params = {
        "id_token_hint": signed_in.id_token,
        "post_logout_redirect_uri": SIGNED_OUT,
        "state": "p",
    }
    posted = browser.http.post(f"{browser.issuer}/logout", data=params, allow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["Location"].startswith(f"{browser.issuer}/logout?")
    response = browser.follow(posted)
    assert (response.status_code, response.headers["Location"]) == (303, f"{SIGNED_OUT}?state=p")
    assert silent_authorization(browser, logout_rp)["error"] == "login_required"


def test_without_a_session_there_is_nothing_to_confirm(browser, logout_rp):
    response = logout(
        browser, client_id=logout_rp.client.client_id, post_logout_redirect_uri=SIGNED_OUT
    )
    assert (response.status_code, response.headers["Location"]) == (303, SIGNED_OUT)
    page = logout(browser)
    assert page.status_code == 200 and "<h1>You are signed out</h1>" in page.text


def test_bad_input_gets_a_friendly_page(browser, logout_rp, signed_in, make):
    url = f"{browser.issuer}/logout"
    repeated = browser.http.get(url, params=[("state", "a"), ("state", "b")])
    assert repeated.status_code == 400 and "repeats the &#39;state&#39; parameter" in repeated.text
    too_long = logout(browser, id_token_hint="x" * 20_000)
    assert too_long.status_code == 200 and CONFIRM_HEADING in too_long.text
    long_state = logout(
        browser,
        client_id=logout_rp.client.client_id,
        post_logout_redirect_uri=SIGNED_OUT,
        state="s" * 600,
    )
    assert long_state.status_code == 400
    not_a_form = browser.http.post(url, data=b"\xff\xfe", allow_redirects=False)
    assert not_a_form.status_code == 303  # no parameters at all: asked again, as a GET
    unknown = browser.http.get(f"{make.base_url}/t/no-such-tenant/logout")
    assert unknown.status_code == 404 and unknown.headers["Content-Type"].startswith("text/html")
    assert "code" in silent_authorization(browser, logout_rp)
