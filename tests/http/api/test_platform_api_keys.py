"""Platform API keys over real HTTP (issue 8): listed and revoked by platform keys only, the
revocation refused at the key's very next call, every attempt audited, never a secret shown."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from idp.services.management.api_keys import OPERATOR, create_api_key

KEYS = "/platform/api-keys"
ONE = "/platform/api-keys/{key_id}"
EVENTS = "/tenants/{slug}/audit-events"


@pytest.fixture
def platform(services):
    """Make a platform key: (secret, key id)."""

    def make(name: str = "platform", scopes: tuple[str, ...] | None = None) -> tuple[str, str]:
        issued = create_api_key(services.uow(), OPERATOR, None, name, scopes)
        return issued.secret, issued.key.key_id

    return make


def works(api, secret: str) -> bool:
    """Whether the key is accepted now (a call any live platform key may make)."""
    status = api(secret).get("/tenants").status_code
    assert status in (200, 401), status
    return status == 200


def revocations(api, reader: str, key_id: str) -> list[dict]:
    response = api(reader).get(
        "/audit-events", params={"action": "api_key.revoke", "target_id": key_id}
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_the_list_shows_each_key_but_never_its_secret(api, platform, make, tenant_key):
    admin, admin_id = platform("admin")
    target, target_id = platform("deploy bot", ("tenants:read", "clients:read"))
    tenant_secret = tenant_key(make.tenant())
    assert works(api, target)  # so it has a last use to show

    response = api(admin).get(KEYS)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    listed = {key["id"]: key for key in response.json()["items"]}
    assert {admin_id, target_id} <= set(listed)
    assert all(key["platform"] for key in listed.values())  # no tenant key among them
    shown = listed[target_id]
    assert (shown["name"], shown["scopes"]) == ("deploy bot", ["tenants:read", "clients:read"])
    assert shown["hint"] == f"idp_ak_…{target[-4:]}"
    assert shown["created_at"] and shown["last_used_at"] and shown["revoked_at"] is None
    for secret in (admin, target, tenant_secret):
        assert secret not in response.text
        assert hashlib.sha256(secret.encode()).hexdigest() not in response.text

    single = api(admin).get(f"{KEYS}/{target_id}", ONE)
    assert single.status_code == 200 and single.json() == shown
    assert target not in single.text and single.headers["ETag"]


def test_a_revoked_key_is_refused_at_its_next_call(api, platform):
    admin, _ = platform("admin")
    leaked, leaked_id = platform("leaked")
    assert works(api, leaked)

    revoked = api(admin).delete(f"{KEYS}/{leaked_id}", ONE)
    assert (revoked.status_code, revoked.content) == (204, b"")
    refused = api(leaked).get("/tenants")
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    first = api(admin).get(f"{KEYS}/{leaked_id}", ONE).json()["revoked_at"]
    assert first is not None
    assert api(admin).delete(f"{KEYS}/{leaked_id}", ONE).status_code == 204
    assert api(admin).get(f"{KEYS}/{leaked_id}", ONE).json()["revoked_at"] == first
    assert not works(api, leaked)
    assert works(api, admin)


def test_a_key_may_revoke_itself(api, platform):
    """Whoever holds a key they think leaked ends it at once; the operator makes a new one."""
    own, own_id = platform("self")
    auditor, _ = platform("auditor", ("audit:read",))
    assert api(own).delete(f"{KEYS}/{own_id}", ONE).status_code == 204
    assert not works(api, own)
    assert api(own).get(KEYS).status_code == 401
    (event,) = revocations(api, auditor, own_id)
    assert (event["actor"], event["outcome"]) == (f"api-key:{own_id}", "success")


def test_revocations_are_audited_under_the_installation(api, platform):
    admin, admin_id = platform("admin")
    auditor, _ = platform("auditor", ("audit:read",))
    _, target_id = platform("target")
    api(admin).delete(f"{KEYS}/{target_id}", ONE, headers={"X-Request-Id": "revoke-platform-1"})

    (event,) = revocations(api, auditor, target_id)
    assert event["tenant"] is None  # installation objects are filed under no tenant
    assert (event["actor"], event["outcome"], event["target_type"]) == (
        f"api-key:{admin_id}",
        "success",
        "api_key",
    )
    assert event["request_id"] == "revoke-platform-1"
    assert event["details"]["path"] == f"/api/v1/platform/api-keys/{target_id}"


def test_an_unknown_id_is_a_clean_404_and_audited_as_denied(api, platform, make, tenant_key):
    admin, admin_id = platform("admin")
    auditor, _ = platform("auditor", ("audit:read",))
    tenant = make.tenant()
    tenant_secret = tenant_key(tenant)
    tenant_key_id = (
        api(tenant_secret)
        .get(f"/tenants/{tenant.slug}/api-keys", "/tenants/{slug}/api-keys")
        .json()["items"][0]["id"]
    )

    never_issued = f"no-such-key-{secrets.token_hex(4)}"  # platform events outlive one test
    for unknown in (never_issued, tenant_key_id):  # a tenant's key is no platform key
        missing = api(admin).delete(f"{KEYS}/{unknown}", ONE)
        assert missing.status_code == 404
        assert missing.headers["Content-Type"] == "application/problem+json"
        assert missing.json()["detail"] == f"no platform API key '{unknown}'"
        assert api(admin).get(f"{KEYS}/{unknown}", ONE).status_code == 404
        (event,) = revocations(api, auditor, unknown)
        assert (event["actor"], event["outcome"], event["tenant"]) == (
            f"api-key:{admin_id}",
            "denied",
            None,
        )
    assert works(api, tenant_secret)


def test_tenant_keys_can_neither_list_nor_revoke_platform_keys(api, platform, make, tenant_key):
    target, target_id = platform("target")
    tenant = make.tenant()
    tenant_admin = api(tenant_key(tenant))  # every scope, keys:read and keys:write included

    for response in (
        tenant_admin.get(KEYS),
        tenant_admin.get(f"{KEYS}/{target_id}", ONE),
        tenant_admin.delete(f"{KEYS}/{target_id}", ONE),
    ):
        assert response.status_code == 403
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["detail"] == "Only a platform key can see or revoke platform keys."
    # Nor through the tenant's own path, where a platform key's id names nothing.
    own_path = tenant_admin.delete(
        f"/tenants/{tenant.slug}/api-keys/{target_id}", "/tenants/{slug}/api-keys/{key_id}"
    )
    assert own_path.status_code == 404
    assert works(api, target)

    # The refusals are in the tenant's own log, where its administrators look.
    log = tenant_admin.get(
        EVENTS.format(slug=tenant.slug), EVENTS, params={"action": "api_key.revoke"}
    ).json()["items"]
    assert [(e["outcome"], e["target_id"], e["details"]["status"]) for e in log] == [
        ("denied", target_id, 404),
        ("denied", target_id, 403),
    ]


def test_platform_keys_need_the_scope(api, platform):
    reader, _ = platform("reader", ("keys:read",))
    outsider, _ = platform("outsider", ("tenants:read",))
    _, target_id = platform("target")
    assert api(outsider).get(KEYS).status_code == 403
    refused = api(reader).delete(f"{KEYS}/{target_id}", ONE)
    assert refused.status_code == 403 and "keys:write" in refused.json()["detail"]
    assert api(reader).get(f"{KEYS}/{target_id}", ONE).json()["revoked_at"] is None


def test_no_credentials_are_401(api):
    assert api(None).get(KEYS).status_code == 401
    assert api(None).delete(f"{KEYS}/anything", ONE).status_code == 401
