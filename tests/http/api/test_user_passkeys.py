"""Issue 10 §2 and §4, management API: an admin sees a person's passkeys among their factors
(id, name, dates; never a key) and removes one by id or all by type, each audited and checked
against the OpenAPI document; a removed passkey no longer signs anyone in."""

from __future__ import annotations

import requests

from idp.services.audit import AuditFilter, page_events
from tests.support.account import signed_in_account
from tests.support.passkeys import add_passkey, origin_of, passkey_options
from tests.support.soft_authenticator import SoftAuthenticator

FACTORS = "/tenants/{slug}/users/{user_id}/factors"
FACTOR = "/tenants/{slug}/users/{user_id}/factors/{factor_type}"
PASSKEY = "/tenants/{slug}/users/{user_id}/factors/passkey/{passkey_id}"


def _with_passkeys(make, *names: str):
    tenant = make.tenant()
    person = make.user(tenant)
    issuer = make.issuer(tenant)
    keys = {name: SoftAuthenticator() for name in names}
    with signed_in_account(issuer, person.email) as http:
        for name, soft in keys.items():
            assert add_passkey(http, issuer, soft, name).status_code == 200
    return tenant, person, keys


def _signs_in(issuer: str, soft: SoftAuthenticator) -> bool:
    with requests.Session() as http:
        csrf, options = passkey_options(http, issuer, "sign_in", "/login")
        answer = http.post(
            f"{issuer}/login/passkey",
            data={"csrf_token": csrf, "credential": soft.get(options, origin_of(issuer))},
        )
        return answer.status_code == 200


def test_an_admin_lists_and_removes_one_passkey(make, services, api, tenant_key):
    tenant, person, keys = _with_passkeys(make, "Laptop", "Phone")
    client = api(tenant_key(tenant))
    path = f"/tenants/{tenant.slug}/users/{person.subject}/factors"
    items = client.get(path, FACTORS).json()["items"]
    assert [(item["type"], item["name"]) for item in items] == [
        ("passkey", "Laptop"),
        ("passkey", "Phone"),
    ]
    assert "public_key" not in str(items) and items[0]["last_used_at"] is None
    laptop = items[0]["id"]
    assert client.delete(f"{path}/passkey/{laptop}", PASSKEY).status_code == 204
    assert [item["name"] for item in client.get(path, FACTORS).json()["items"]] == ["Phone"]
    assert client.delete(f"{path}/passkey/{laptop}", PASSKEY).status_code == 404
    issuer = make.issuer(tenant)
    assert not _signs_in(issuer, keys["Laptop"])
    assert _signs_in(issuer, keys["Phone"])
    removals = page_events(
        services.uow(), tenant.id, False, AuditFilter(action="user.passkey_removed"), None, 10
    ).items
    # Newest first: the refused second try, then the removal, both filed under the person.
    assert [(event.target_id, event.outcome) for event in removals] == [
        (person.subject, "denied"),
        (person.subject, "success"),
    ]


def test_removing_the_passkey_type_removes_them_all(make, api, tenant_key):
    tenant, person, keys = _with_passkeys(make, "Laptop", "Phone")
    client = api(tenant_key(tenant))
    path = f"/tenants/{tenant.slug}/users/{person.subject}/factors"
    assert client.delete(f"{path}/passkey", FACTOR).status_code == 204
    assert client.get(path, FACTORS).json() == {"items": []}
    assert client.delete(f"{path}/passkey", FACTOR).status_code == 404
    assert not any(_signs_in(make.issuer(tenant), soft) for soft in keys.values())


def test_reset_mfa_removes_the_passkeys(make, api, tenant_key):
    tenant, person, _ = _with_passkeys(make, "Laptop")
    client = api(tenant_key(tenant))
    path = f"/tenants/{tenant.slug}/users/{person.subject}/factors"
    assert client.delete(path, FACTORS).status_code == 204
    assert client.get(path, FACTORS).json() == {"items": []}
