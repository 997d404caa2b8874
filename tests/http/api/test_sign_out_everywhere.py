"""Issue 4, users: an admin revokes a person's sessions and tokens; deactivation does the same.
The person signs in for real (hosted login, code flow with PKCE) before each test."""

from __future__ import annotations

import requests

from idp.services.management.api_keys import OPERATOR, create_api_key
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    Browser,
    code_request,
    pkce_pair,
    signed_in_tokens,
)

SESSIONS = "/tenants/{slug}/users/{user_id}/sessions"
USER = "/tenants/{slug}/users/{user_id}"


def _signed_in(make, server):
    """A person signed in at a fresh tenant, with the access token their client got."""
    tenant = make.tenant()
    person = make.user(tenant, password=PASSWORD)
    rp = make.client(
        tenant, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    browser = Browser(requests.Session(), make.issuer(tenant))
    tokens = signed_in_tokens(browser, rp.client.client_id, rp.secret, person.email, scope="openid")
    token = tokens["access_token"]
    return tenant, person, rp, browser, token


def _active(make, tenant, rp, token) -> bool:
    response = requests.post(
        f"{make.issuer(tenant)}/introspect",
        data={"token": token},
        auth=(rp.client.client_id, rp.secret),
    )
    return bool(response.json()["active"])


def _silent_sign_in(browser, rp) -> str:
    """prompt=none: where the client is sent back to, without any page."""
    _, challenge = pkce_pair()
    params = code_request(rp.client.client_id, challenge, scope="openid", prompt="none")
    response = browser.authorize(**params)
    assert response.status_code in (302, 303)
    return response.headers["Location"]


def _admin(api, services, tenant):
    return api(create_api_key(services.uow(), OPERATOR, tenant, "admin", None).secret)


def test_an_admin_signs_a_person_out_everywhere(make, server, api, services):
    tenant, person, rp, browser, token = _signed_in(make, server)
    assert _active(make, tenant, rp, token)
    assert "code=" in _silent_sign_in(browser, rp)

    response = _admin(api, services, tenant).delete(
        f"/tenants/{tenant.slug}/users/{person.subject}/sessions", SESSIONS
    )
    assert response.status_code == 204
    assert not _active(make, tenant, rp, token)
    assert "error=login_required" in _silent_sign_in(browser, rp)


def test_deactivating_a_person_ends_their_sessions_and_tokens(make, server, api, services):
    tenant, person, rp, browser, token = _signed_in(make, server)
    response = _admin(api, services, tenant).patch(
        f"/tenants/{tenant.slug}/users/{person.subject}",
        USER,
        json={"active": False},
        headers={"If-Match": "*"},
    )
    assert response.status_code == 200
    assert not _active(make, tenant, rp, token)
    assert "error=login_required" in _silent_sign_in(browser, rp)


def test_signing_out_one_person_leaves_the_others_signed_in(make, server, api, services):
    tenant, _, rp, _, token = _signed_in(make, server)
    other = make.user(tenant)
    response = _admin(api, services, tenant).delete(
        f"/tenants/{tenant.slug}/users/{other.subject}/sessions", SESSIONS
    )
    assert response.status_code == 204
    assert _active(make, tenant, rp, token)
