"""Claims (OIDC Core §5): the `claims` request parameter (§5.5), `picture` and `updated_at`
with the profile scope (§5.1, §5.4), and acr (§3.1.2.1, §5.5.1.1). ID tokens are verified with
joserfc against the tenant's JWKS."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    code_request,
    pkce_pair,
    query_of,
    redeem,
    verified_claims,
)

PICTURE = "https://cdn.example.com/ada.png"


@pytest.fixture
def pictured(make, module_tenant):
    return make.user(module_tenant, name="Ada Lovelace", password=PASSWORD, picture=PICTURE)


def tokens(browser, http, rp, person, **extra):
    """(token response, ID token claims, userinfo) after a sign-in with these parameters."""
    verifier, challenge = pkce_pair()
    params = browser.run(
        person.email, PASSWORD, **code_request(rp.client.client_id, challenge, **extra)
    )
    body = redeem(http, browser.issuer, rp.client.client_id, rp.secret, params["code"], verifier)
    claims = verified_claims(http, browser.issuer, body["id_token"])
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    userinfo = http.get(f"{browser.issuer}/userinfo", headers=bearer)
    assert userinfo.status_code == 200, userinfo.text
    return body, claims, userinfo.json()


def refused(browser, rp, **extra):
    _, challenge = pkce_pair()
    response = browser.authorize(**code_request(rp.client.client_id, challenge, **extra))
    assert response.status_code == 303, response.text
    assert response.headers["Location"].startswith(REDIRECT + "?")
    params = query_of(response.headers["Location"])
    assert params["state"] == "st-123" and params["iss"] == browser.issuer
    return params["error"]


def test_discovery_advertises_claims_and_acr(browser, http):
    metadata = http.get(f"{browser.issuer}/.well-known/openid-configuration").json()
    assert metadata["claims_parameter_supported"] is True
    assert {"sub", "name", "picture", "updated_at", "email", "roles", "acr"} <= set(
        metadata["claims_supported"]
    )
    assert metadata["acr_values_supported"] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "claims",
    [
        "not json",
        "[]",
        '"text"',
        '{"userinfo": []}',
        '{"id_token": "email"}',
        '{"id_token": {"email": 5}}',
        '{"id_token": {"email": {"essential": "yes"}}}',
        '{"userinfo": {"email": {"values": "a"}}}',
        json.dumps({"userinfo": {"x" * 5000: None}}),
    ],
)
def test_a_malformed_claims_parameter_is_invalid_request(browser, rp, claims):
    assert refused(browser, rp, claims=claims) == "invalid_request"


def test_claims_asked_by_name_are_released_beyond_the_scope(browser, http, rp, pictured):
    asked = {
        "id_token": {"email": {"essential": True}, "picture": None, "unknown_claim": None},
        "userinfo": {"name": {"essential": True}, "roles": None, "updated_at": None},
    }
    body, claims, userinfo = tokens(
        browser, http, rp, pictured, scope="openid", claims=json.dumps(asked)
    )
    assert body["scope"] == "openid"
    assert claims["sub"] == pictured.subject
    assert claims["email"] == pictured.email and claims["picture"] == PICTURE
    assert "name" not in claims and "unknown_claim" not in claims
    assert userinfo["sub"] == pictured.subject
    assert userinfo["name"] == "Ada Lovelace" and userinfo["roles"] == []
    assert isinstance(userinfo["updated_at"], int)
    assert "email" not in userinfo and "picture" not in userinfo


def test_claims_asked_by_name_are_released_again_at_refresh(
    browser, http, make, module_tenant, pictured
):
    """OIDC Core §12.2: tokens from a refresh stand for the same grant, so they release what the
    authorization request asked for, not only what the scope does."""
    refreshing = make.client(
        module_tenant,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email"),
        always_issue_refresh_token=True,
    )
    asked = {"id_token": {"picture": None}, "userinfo": {"email": {"essential": True}}}
    body, _, _ = tokens(
        browser, http, refreshing, pictured, scope="openid", claims=json.dumps(asked)
    )
    refreshed = http.post(
        f"{browser.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(refreshing.client.client_id, refreshing.secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    claims = verified_claims(http, browser.issuer, refreshed.json()["id_token"])
    assert claims["picture"] == PICTURE and "email" not in claims
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    userinfo = http.get(f"{browser.issuer}/userinfo", headers=bearer).json()
    assert userinfo["email"] == pictured.email and "picture" not in userinfo


def test_the_profile_scope_releases_picture_and_updated_at(browser, http, rp, pictured):
    _, claims, userinfo = tokens(browser, http, rp, pictured, scope="openid profile")
    for released in (claims, userinfo):
        assert released["picture"] == PICTURE
        assert isinstance(released["updated_at"], int)
        assert abs(released["updated_at"] - time.time()) < 600  # seconds, not milliseconds
        assert "email" not in released


def test_acr_values_are_voluntary_and_the_id_token_says_which_acr(browser, http, rp, person):
    _, claims, _ = tokens(browser, http, rp, person, acr_values="urn:example:mfa 1")
    assert claims["acr"] == "1"
    essential_met = json.dumps({"id_token": {"acr": {"essential": True, "values": ["x", "1"]}}})
    _, claims, _ = tokens(browser, http, rp, person, claims=essential_met)
    assert claims["acr"] == "1"


def test_an_essential_acr_we_cannot_satisfy_is_access_denied(browser, rp):
    unmet = {"id_token": {"acr": {"essential": True, "value": "urn:example:mfa"}}}
    assert refused(browser, rp, claims=json.dumps(unmet)) == "access_denied"
    voluntary = {"id_token": {"acr": {"values": ["urn:example:mfa"]}}}
    _, challenge = pkce_pair()
    started = browser.authorize(
        **code_request(rp.client.client_id, challenge, claims=json.dumps(voluntary))
    )
    assert started.headers["Location"].startswith(f"{browser.issuer}/login?")
