"""Sign-ins are security events (issue 4): each outcome is in the tenant's audit log, without
the e-mail address a stranger typed."""

from __future__ import annotations

import requests

from idp.services.management.api_keys import OPERATOR, create_api_key
from tests.support.browser import PASSWORD, REDIRECT, Browser, code_request, pkce_pair

EVENTS = "/tenants/{slug}/audit-events"


def _sign_in(make, tenant, rp, email: str, password: str) -> requests.Response:
    browser = Browser(requests.Session(), make.issuer(tenant))
    _, challenge = pkce_pair()
    started = browser.authorize(**code_request(rp.client.client_id, challenge, scope="openid"))
    return browser.sign_in(started.headers["Location"], email, password)


def test_each_sign_in_outcome_is_audited(make, api, services):
    tenant = make.tenant()
    person = make.user(tenant, password=PASSWORD)
    rp = make.client(
        tenant, grant_types=("authorization_code",), redirect_uris=(REDIRECT,), scopes=("openid",)
    )
    assert _sign_in(make, tenant, rp, person.email, PASSWORD).status_code == 303
    _sign_in(make, tenant, rp, person.email, "wrong password!")
    _sign_in(make, tenant, rp, "stranger@example.org", "whatever it is")

    admin = api(create_api_key(services.uow(), OPERATOR, tenant, "auditor", ("audit:read",)).secret)
    response = admin.get(EVENTS.format(slug=tenant.slug), EVENTS, params={"action": "user.sign_in"})
    events = response.json()["items"]
    outcomes = [(e["outcome"], e["actor"], e["target_id"]) for e in reversed(events)]
    assert outcomes == [
        ("success", f"user:{person.subject}", person.subject),
        ("failed", "anonymous", person.subject),
        ("failed", "anonymous", None),
    ]
    assert all(e["client_ip"] == "127.0.0.1" for e in events)
    assert "stranger@example.org" not in response.text
    assert "wrong password!" not in response.text
