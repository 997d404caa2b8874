"""One test per attack on the code flow (RFC 9700 §4), each asserting the exact answer."""

from __future__ import annotations

import time

import pytest
import requests

from idp.services.accounts.users import set_active
from idp.services.signin.authorization import AuthorizationCode, Codes
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    Browser,
    code_request,
    hidden_fields,
    pkce_pair,
    query_of,
    verified_claims,
)


def redeem(http, issuer, issued, code, verifier, redirect_uri=REDIRECT):
    return http.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(issued.client.client_id, issued.secret),
    )


def error_of(response):
    """(error, state, iss) of an error redirected to the client (RFC 6749 §4.1.2.1, RFC 9207)."""
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    params = query_of(location)
    return params["error"], params.get("state"), params["iss"]


def signed_in_code(browser, rp, person, **extra):
    verifier, challenge = pkce_pair()
    result = browser.run(
        person.email, PASSWORD, **code_request(rp.client.client_id, challenge, **extra)
    )
    return result["code"], verifier


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT + "/extra",
        REDIRECT + "?next=1",
        REDIRECT + "/",
        "https://evil.example.com/callback",
        "https://rp.example.com@evil.example.com/callback",
        "https://evil.example.com@rp.example.com/callback",
        "HTTPS://RP.EXAMPLE.COM/callback",
        "https://rp.example.com/Callback",
        "https://rp.example.com/%63allback",
        "https://rp.example.com/callback%2F",
        "https://rp.example.com/callback#frag",
        "http://rp.example.com/callback",
        "https://rp.example.com:443/callback",
    ],
)
def test_redirect_uri_variants_are_never_redirected_to(browser, rp, redirect_uri):
    _, challenge = pkce_pair()
    response = browser.authorize(
        **code_request(rp.client.client_id, challenge, redirect_uri=redirect_uri)
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert "has not registered" in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:5555@evil.example.com/cb",
        "http://localhost:5555/cb",
        "http://127.0.0.1:5555/cb/x",
        "http://127.0.0.2:5555/cb",
        "https://127.0.0.1:5555/cb",
    ],
)
def test_loopback_rule_frees_only_the_port(browser, make, module_tenant, redirect_uri):
    native = make.client(
        module_tenant,
        public=True,
        application_type="native",
        grant_types=("authorization_code",),
        redirect_uris=("http://127.0.0.1/cb",),
        scopes=("openid",),
    )
    _, challenge = pkce_pair()
    response = browser.authorize(
        **code_request(
            native.client.client_id, challenge, redirect_uri=redirect_uri, scope="openid"
        )
    )
    assert (response.status_code, "Location" in response.headers) == (400, False)


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:5555/cb", "http://127.0.0.1/cb"])
def test_a_web_client_gets_no_loopback_port_leeway(browser, make, module_tenant, redirect_uri):
    # RFC 8252 §7.3's any-port rule is for native apps; a web client's address is fixed.
    web = make.client(
        module_tenant,
        public=True,
        grant_types=("authorization_code",),
        redirect_uris=("http://127.0.0.1:8080/cb",),
        scopes=("openid",),
    )
    _, challenge = pkce_pair()
    response = browser.authorize(
        **code_request(web.client.client_id, challenge, redirect_uri=redirect_uri, scope="openid")
    )
    assert (response.status_code, "Location" in response.headers) == (400, False)
    assert "has not registered" in response.text


def test_a_native_client_may_use_any_loopback_port(browser, make, module_tenant):
    native = make.client(
        module_tenant,
        public=True,
        application_type="native",
        grant_types=("authorization_code",),
        redirect_uris=("http://[::1]/cb",),
        scopes=("openid",),
    )
    _, challenge = pkce_pair()
    response = browser.authorize(
        **code_request(
            native.client.client_id, challenge, redirect_uri="http://[::1]:49152/cb", scope="openid"
        )
    )
    # Accepted: on to sign-in, not the error page about an unregistered redirect URI.
    assert response.status_code == 303, response.text
    assert "/login" in response.headers["Location"]


def test_unknown_client_gets_the_error_page(browser):
    response = browser.authorize(**code_request("no-such-client", "x" * 43))
    assert (response.status_code, "Location" in response.headers) == (400, False)


def test_pkce_missing_is_refused_at_the_redirect_uri(browser, rp):
    response = browser.authorize(**code_request(rp.client.client_id, None))
    assert error_of(response)[:2] == ("invalid_request", "st-123")


def test_pkce_plain_is_refused(browser, rp):
    verifier, _ = pkce_pair()
    params = code_request(rp.client.client_id, verifier, code_challenge_method="plain")
    assert error_of(browser.authorize(**params))[0] == "invalid_request"


def test_pkce_verifier_mismatch_is_invalid_grant(browser, rp, person, http):
    code, _ = signed_in_code(browser, rp, person)
    other_verifier, _ = pkce_pair()
    response = redeem(http, browser.issuer, rp, code, other_verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_pkce_downgrade_verifier_without_challenge_is_refused(
    browser, rp, person, http, services, module_tenant
):
    # A code issued without a challenge (as for a client that may skip PKCE): a verifier at the
    # token endpoint is a downgrade attempt (RFC 9700 §4.8.2) and is refused.
    code = Codes(services.store).issue(
        module_tenant.id,
        AuthorizationCode(
            client_id=rp.client.client_id,
            redirect_uri=REDIRECT,
            scopes=("openid",),
            subject=person.subject,
            sid="s",
            auth_time=0,
            amr=("pwd",),
        ),
    )
    verifier, _ = pkce_pair()
    response = redeem(http, browser.issuer, rp, code, verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_code_replay_is_refused_and_revokes_the_first_token(browser, rp, person, http):
    code, verifier = signed_in_code(browser, rp, person)
    first = redeem(http, browser.issuer, rp, code, verifier)
    assert first.status_code == 200
    access_token = first.json()["access_token"]
    userinfo = f"{browser.issuer}/userinfo"
    headers = {"Authorization": f"Bearer {access_token}"}
    assert http.get(userinfo, headers=headers).status_code == 200

    again = redeem(http, browser.issuer, rp, code, verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    revoked = http.get(userinfo, headers=headers)
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]


def test_code_redeemed_by_another_client_is_refused(browser, rp, person, http, make, module_tenant):
    code, verifier = signed_in_code(browser, rp, person)
    thief = make.client(
        module_tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid",),
    )
    stolen = redeem(http, browser.issuer, thief, code, verifier)
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    # Burnt: not even its own client can use it now.
    assert redeem(http, browser.issuer, rp, code, verifier).json()["error"] == "invalid_grant"


def test_code_with_another_redirect_uri_is_refused(browser, rp, person, http):
    code, verifier = signed_in_code(browser, rp, person)
    response = redeem(http, browser.issuer, rp, code, verifier, redirect_uri=REDIRECT + "/other")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_tenant_a_code_is_refused_at_tenant_b(browser, rp, person, http, make):
    code, verifier = signed_in_code(browser, rp, person)
    other = make.tenant()
    b_client = make.client(
        other, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    response = redeem(http, make.issuer(other), b_client, code, verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    # ...and tenant A's client does not exist at tenant B at all.
    as_a = redeem(http, make.issuer(other), rp, code, verifier)
    assert (as_a.status_code, as_a.json()["error"]) == (401, "invalid_client")


def test_login_and_consent_posts_without_csrf_token_are_refused(browser, rp, person, http):
    _, challenge = pkce_pair()
    login_url = browser.authorize(**code_request(rp.client.client_id, challenge)).headers[
        "Location"
    ]
    form = hidden_fields(browser.get(login_url).text)
    form.pop("csrf_token")
    response = http.post(
        f"{browser.issuer}/login",
        data=form | {"email": person.email, "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status_code == 400
    assert not any(c.name.startswith("idp_session_") for c in http.cookies)

    # Forged from another site: the attacker's own token does not match the victim's cookie.
    signed_in = browser.sign_in(login_url, person.email, PASSWORD)
    consent_url = signed_in.headers["Location"]
    form = hidden_fields(browser.get(consent_url).text) | {"decision": "allow"}
    form["csrf_token"] = "forged"
    refused = http.post(f"{browser.issuer}/consent", data=form, allow_redirects=False)
    assert refused.status_code == 400


def test_session_cookie_is_rotated_at_login(browser, rp, person, http):
    signed_in_code(browser, rp, person)
    name = next(c.name for c in http.cookies if c.name.startswith("idp_session_"))
    before = http.cookies[name]
    signed_in_code(browser, rp, person, prompt="login")
    after = http.cookies[name]
    assert after != before
    # The old id is dead: a browser still holding it is not signed in.
    with requests.Session() as other:
        other.cookies.set(name, before)
        stale_browser = Browser(other, browser.issuer)
        _, challenge = pkce_pair()
        params = code_request(rp.client.client_id, challenge, prompt="none")
        assert error_of(stale_browser.authorize(**params))[0] == "login_required"
        other.cookies.set(name, after)
        assert "code" in query_of(stale_browser.authorize(**params).headers["Location"])


def test_login_is_throttled_per_account_and_hides_which_accounts_exist(
    browser, rp, person, make, module_tenant
):
    login_url = f"{browser.issuer}/login"
    wrong = browser.sign_in(login_url, person.email, "not the password")
    unknown = browser.sign_in(login_url, "nobody@example.com", "not the password")
    inactive = make.user(module_tenant, password=PASSWORD)
    set_active(make.services.uow(), module_tenant, inactive.email, False)
    locked = browser.sign_in(login_url, inactive.email, PASSWORD)
    assert wrong.status_code == unknown.status_code == locked.status_code == 401
    message = "The e-mail address or password is not right."
    assert message in wrong.text and message in unknown.text and message in locked.text

    for _ in range(4):
        browser.sign_in(login_url, person.email, "still wrong")
    blocked = browser.sign_in(login_url, person.email, PASSWORD)  # the right one, too late
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text


def test_login_is_throttled_per_client_address_across_accounts(make, http, services):
    """Guessing one password for many accounts from one address is stopped too (a fresh tenant:
    the address limit counts per tenant, and every test here comes from 127.0.0.1)."""
    tenant = make.tenant()
    person = make.user(tenant, password=PASSWORD)
    browser = Browser(http, make.issuer(tenant))
    login_url = f"{browser.issuer}/login"
    for attempt in range(services.settings.rate_limits.login_failures_per_ip):
        guess = browser.sign_in(login_url, f"user{attempt}@example.com", "Winter2026!")
        assert guess.status_code == 401
    blocked = browser.sign_in(login_url, person.email, PASSWORD)  # an account never tried
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text


def test_prompt_none_without_session_is_login_required(browser, rp):
    _, challenge = pkce_pair()
    response = browser.authorize(**code_request(rp.client.client_id, challenge, prompt="none"))
    assert error_of(response) == ("login_required", "st-123", browser.issuer)


def test_prompt_none_without_consent_is_consent_required(browser, rp, person, make, module_tenant):
    signed_in_code(browser, rp, person)
    other = make.client(
        module_tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid",),
    )
    _, challenge = pkce_pair()
    response = browser.authorize(
        **code_request(other.client.client_id, challenge, prompt="none", scope="openid")
    )
    assert error_of(response)[0] == "consent_required"


def test_max_age_zero_and_prompt_login_force_a_new_sign_in(browser, rp, person, http):
    signed_in_code(browser, rp, person)
    _, challenge = pkce_pair()
    for extra in ({"max_age": "0"}, {"prompt": "login"}):
        response = browser.authorize(**code_request(rp.client.client_id, challenge, **extra))
        assert response.headers["Location"].startswith(f"{browser.issuer}/login?txn=")
    bad = browser.authorize(**code_request(rp.client.client_id, challenge, max_age="-1"))
    assert error_of(bad)[0] == "invalid_request"
    both = browser.authorize(**code_request(rp.client.client_id, challenge, prompt="none login"))
    assert error_of(both)[0] == "invalid_request"


def test_max_age_re_authentication_gives_a_newer_auth_time(browser, rp, person, http):
    """OIDC Core §3.1.2.1: after max_age the person signs in again, and the ID token says when."""
    code, verifier = signed_in_code(browser, rp, person)
    first = verified_claims(
        http, browser.issuer, redeem(http, browser.issuer, rp, code, verifier).json()["id_token"]
    )
    time.sleep(1.1)  # auth_time has one-second resolution
    code, verifier = signed_in_code(browser, rp, person, max_age="0")
    again = verified_claims(
        http, browser.issuer, redeem(http, browser.issuer, rp, code, verifier).json()["id_token"]
    )
    assert again["auth_time"] > first["auth_time"]
    assert again["sid"] != first["sid"]  # the session was replaced at the new sign-in


def test_denied_consent_returns_access_denied(browser, rp, person):
    _, challenge = pkce_pair()
    started = browser.authorize(**code_request(rp.client.client_id, challenge))
    consent_url = browser.sign_in(started.headers["Location"], person.email, PASSWORD).headers[
        "Location"
    ]
    assert error_of(browser.consent(consent_url, decision="deny"))[0] == "access_denied"


def test_userinfo_bearer_errors(browser, http, make, module_tenant, access_token):
    url = f"{browser.issuer}/userinfo"
    missing = http.get(url)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="userinfo"'
    bad = http.get(url, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    machine = make.client(module_tenant, scopes=("read",))
    token = access_token(module_tenant, machine)
    no_openid = http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert no_openid.status_code == 403
    assert 'error="insufficient_scope"' in no_openid.headers["WWW-Authenticate"]
    both = http.post(
        url, data={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert both.status_code == 400
