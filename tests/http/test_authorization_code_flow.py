"""The OpenID Connect code flow end to end, as a relying party and a person's browser see it:
authorize, hosted login and consent, the code at the redirect URI, the token exchange with PKCE,
the ID token verified with joserfc against the JWKS, and userinfo."""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.jwk import KeySet

from idp.services.tokens.id_tokens import token_hash
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    code_request,
    hidden_fields,
    pkce_pair,
    query_of,
    redeem,
)


def test_person_signs_in_consents_and_the_client_gets_verified_tokens(
    browser, rp, person, http, module_tenant, make
):
    issuer = make.issuer(module_tenant)
    metadata = http.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["authorization_endpoint"] == f"{issuer}/authorize"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    verifier, challenge = pkce_pair()

    started = browser.authorize(**code_request(rp.client.client_id, challenge))
    assert started.status_code == 303
    login_url = started.headers["Location"]
    assert login_url.startswith(f"{issuer}/login?txn=")
    page = browser.get(login_url)
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    # The login POST ends in a redirect to the client, which form-action must allow (CSP 3).
    assert "form-action 'self' https://rp.example.com;" in csp + ";"
    assert page.headers["X-Frame-Options"] == "DENY"

    signed_in = browser.sign_in(login_url, person.email, PASSWORD)
    assert signed_in.status_code == 303
    cookie = next(c for c in signed_in.cookies if c.name.startswith("idp_session_"))
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert "samesite=lax" in signed_in.headers["Set-Cookie"].lower()
    consent_url = signed_in.headers["Location"]
    assert consent_url.startswith(f"{issuer}/consent?txn=")
    consent_page = browser.get(consent_url)
    assert "Test client" in consent_page.text
    assert "See your e-mail address" in consent_page.text
    assert '<label for="remember">Remember this decision</label>' in consent_page.text
    back = browser.consent(consent_url)
    assert back.status_code == 303
    assert back.headers["Location"].startswith(REDIRECT + "?")
    result = query_of(back.headers["Location"])
    assert result["state"] == "st-123"
    assert result["iss"] == issuer

    body = redeem(http, issuer, rp.client.client_id, rp.secret, result["code"], verifier)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email roles"

    keys = KeySet.import_key_set(http.get(metadata["jwks_uri"]).json())
    id_token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    claims = id_token.claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": rp.client.client_id},
        nonce={"essential": True, "value": "n-456"},
    ).validate(claims)
    assert claims["sub"] == person.subject
    assert abs(claims["auth_time"] - time.time()) < 60
    assert claims["email"] == person.email and claims["name"] == "Ada Lovelace"
    assert claims["roles"] == ["editor"]
    assert claims["amr"] == ["pwd"] and claims["sid"]
    assert claims["at_hash"] == token_hash(body["access_token"], "RS256")

    userinfo = http.get(
        f"{issuer}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    info = userinfo.json()
    assert isinstance(info.pop("updated_at"), int)  # profile: seconds since the epoch (§5.1)
    assert info == {
        "sub": person.subject,
        "name": "Ada Lovelace",
        "given_name": person.given_name,
        "family_name": person.family_name,
        "email": person.email,
        "email_verified": False,
        "roles": ["editor"],
    }
    by_form = http.post(f"{issuer}/userinfo", data={"access_token": body["access_token"]})
    assert by_form.json() == userinfo.json()

    # The consent was remembered and the session lives: the next request goes straight back.
    _, challenge2 = pkce_pair()
    again = browser.authorize(**code_request(rp.client.client_id, challenge2, prompt="none"))
    assert again.status_code == 303
    assert query_of(again.headers["Location"]).keys() >= {"code", "state", "iss"}


def test_public_client_with_pkce_and_form_post(browser, person, make, module_tenant, http):
    issuer = make.issuer(module_tenant)
    native = make.client(
        module_tenant,
        public=True,
        application_type="native",
        grant_types=("authorization_code",),
        redirect_uris=("http://127.0.0.1/cb",),
        scopes=("openid", "email"),
    )
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": native.client.client_id,
        "redirect_uri": "http://127.0.0.1:51234/cb",  # RFC 8252 §7.3: any loopback port
        "scope": "openid email",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "response_mode": "form_post",
        "state": "s",
    }
    started = browser.authorize(**params)
    signed_in = browser.sign_in(started.headers["Location"], person.email, PASSWORD)
    consent_url = signed_in.headers["Location"]
    page = browser.consent(consent_url)
    assert page.status_code == 200
    assert "form-action 'self' http://127.0.0.1:51234" in page.headers["Content-Security-Policy"]
    assert 'action="http://127.0.0.1:51234/cb"' in page.text
    fields = hidden_fields(page.text)
    assert fields["state"] == "s" and fields["iss"] == issuer

    token = http.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": fields["code"],
            "redirect_uri": "http://127.0.0.1:51234/cb",
            "client_id": native.client.client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    assert "id_token" in token.json()
