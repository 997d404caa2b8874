"""Issue 10 §4, management API: an admin lists a person's second factors, removes one or
resets MFA; each write audited; every answer checked against the OpenAPI document. The
person enrolled TOTP on the account page for real."""

from __future__ import annotations

import requests

from idp.services.audit import AuditFilter, page_events
from tests.support.account import set_tenant_columns
from tests.support.factors import enrol_on_account_page

FACTORS = "/tenants/{slug}/users/{user_id}/factors"
FACTOR = "/tenants/{slug}/users/{user_id}/factors/{factor_type}"


def _enrolled(make, services):
    tenant = make.tenant()
    set_tenant_columns(services, tenant, mfa_policy="optional")
    person = make.user(tenant, password="correct horse battery")
    with requests.Session() as http:
        enrol_on_account_page(http, make.issuer(tenant), person.email)
    return tenant, person


def test_an_admin_sees_the_factors_and_never_a_secret(make, services, api, tenant_key):
    tenant, person = _enrolled(make, services)
    client = api(tenant_key(tenant, ("users:read",)))
    path = f"/tenants/{tenant.slug}/users/{person.subject}/factors"
    listed = client.get(path, FACTORS)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [item["type"] for item in items] == ["totp", "recovery_codes"]
    assert items[0]["confirmed"] is True and items[1]["remaining"] == 10
    assert "idp_rc_" not in listed.text and "secret" not in listed.text
    # Reading needs no more than users:read; removing needs users:write.
    refused = client.delete(f"{path}/totp", FACTOR)
    assert refused.status_code == 403


def test_removing_totp_takes_the_recovery_codes_along(make, services, api, tenant_key):
    tenant, person = _enrolled(make, services)
    client = api(tenant_key(tenant))
    path = f"/tenants/{tenant.slug}/users/{person.subject}/factors"
    assert client.delete(f"{path}/totp", FACTOR).status_code == 204
    assert client.get(path, FACTORS).json() == {"items": []}
    again = client.delete(f"{path}/totp", FACTOR)
    assert again.status_code == 404
    assert again.headers["Content-Type"].startswith("application/problem+json")
    events = page_events(
        services.uow(), tenant.id, False, AuditFilter(action="user.factor_removed"), None, 10
    ).items
    # Newest first: the refused second try, then the removal, both filed under the person.
    assert [(event.target_id, event.outcome) for event in events] == [
        (person.subject, "denied"),
        (person.subject, "success"),
    ]


def test_reset_mfa_removes_everything(make, services, api, tenant_key):
    tenant, person = _enrolled(make, services)
    client = api(tenant_key(tenant))
    path = f"/tenants/{tenant.slug}/users/{person.subject}/factors"
    assert client.delete(path, FACTORS).status_code == 204
    assert client.get(path, FACTORS).json() == {"items": []}
    events = page_events(
        services.uow(), tenant.id, False, AuditFilter(action="user.mfa_reset"), None, 10
    ).items
    assert [event.target_id for event in events] == [person.subject]


def test_unknown_people_and_factor_types_are_404(make, api, tenant_key):
    tenant = make.tenant()
    person = make.user(tenant)
    client = api(tenant_key(tenant))
    missing = client.get(f"/tenants/{tenant.slug}/users/nobody/factors", FACTORS)
    assert missing.status_code == 404
    odd = client.delete(f"/tenants/{tenant.slug}/users/{person.subject}/factors/sms", FACTOR)
    assert odd.status_code == 404
    none = client.delete(f"/tenants/{tenant.slug}/users/{person.subject}/factors", FACTORS)
    assert none.status_code == 204
