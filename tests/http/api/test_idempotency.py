"""Idempotent creates (draft-ietf-httpapi-idempotency-key-header): a retried POST with the same
Idempotency-Key gets the first response again and creates nothing; keys are per caller."""

from __future__ import annotations

import secrets
import threading

import pytest

from idp.crypto.secrets import digest
from idp.services.management.idempotency import (
    Claim,
    IdempotencyRecords,
    KeyReused,
    StillInFlight,
    StoredResponse,
)

CREATES = [
    ("/tenants/{slug}/api-keys", {"name": "deploy"}, "/tenants/{slug}/api-keys"),
    ("/tenants/{slug}/clients", {"name": "Orders"}, "/tenants/{slug}/clients"),
    ("/tenants/{slug}/users", {"email": "ada@example.com"}, "/tenants/{slug}/users"),
    ("/tenants/{slug}/roles", {"name": "auditor"}, "/tenants/{slug}/roles"),
    ("/tenants/{slug}/team", {"email": "bob@example.com", "role": "admin"}, "/tenants/{slug}/team"),
    (
        "/tenants/{slug}/providers",
        {"kind": "github", "client_id": "gh"},
        "/tenants/{slug}/providers",
    ),
]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f'"{secrets.token_hex(8)}"'}


@pytest.mark.parametrize(("template", "body", "listing"), CREATES, ids=[c[0] for c in CREATES])
def test_a_retried_create_returns_the_first_response_and_creates_nothing(
    api, tenant_key, make, template, body, listing
):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path = template.format(slug=tenant.slug)
    before = len(admin.get(path, listing).json()["items"])
    key = _key()
    first = admin.post(path, template, json=body, headers=key)
    again = admin.post(path, template, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert len(admin.get(path, listing).json()["items"]) == before + 1


def test_a_retried_tenant_create_returns_the_same_tenant(api, platform_key):
    platform = api(platform_key)
    slug = f"idem-{secrets.token_hex(4)}"
    key = _key()
    first = platform.post("/tenants", json={"slug": slug, "name": "Idem"}, headers=key)
    again = platform.post("/tenants", json={"slug": slug, "name": "Idem"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    # Without the key the same body is a second, conflicting create.
    assert platform.post("/tenants", json={"slug": slug, "name": "Idem"}).status_code == 409


def test_a_retried_client_create_returns_the_same_secret_to_the_same_caller(
    api, tenant_key, make, server, http
):
    """The point of the key: a create whose answer was lost must not lose the only secret."""
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/clients", _key()
    body = {"name": "Billing", "grant_types": ["client_credentials"]}
    first = admin.post(path, "/tenants/{slug}/clients", json=body, headers=key)
    again = admin.post(path, "/tenants/{slug}/clients", json=body, headers=key)
    assert again.json()["client_secret"] == first.json()["client_secret"]
    token = http.post(
        f"{server.url}/t/{tenant.slug}/token",
        data={"grant_type": "client_credentials"},
        auth=(again.json()["client_id"], again.json()["client_secret"]),
    )
    assert token.status_code == 200


def test_a_retried_api_key_create_returns_the_same_working_key(api, tenant_key, make):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/api-keys", _key()
    first = admin.post(path, "/tenants/{slug}/api-keys", json={"name": "ci"}, headers=key)
    again = admin.post(path, "/tenants/{slug}/api-keys", json={"name": "ci"}, headers=key)
    assert again.json()["key"] == first.json()["key"]
    assert api(again.json()["key"]).get(f"/tenants/{tenant.slug}", "/tenants/{slug}").ok


def test_the_same_key_with_another_body_is_422(api, tenant_key, make):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/roles", _key()
    assert admin.post(path, "/tenants/{slug}/roles", json={"name": "a"}, headers=key).ok
    other = admin.post(path, "/tenants/{slug}/roles", json={"name": "b"}, headers=key)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    names = [r["name"] for r in admin.get(path, "/tenants/{slug}/roles").json()["items"]]
    assert names == ["a"]


def test_the_same_body_in_another_layout_is_the_same_request(api, tenant_key, make):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/roles", _key()
    template = "/tenants/{slug}/roles"
    first = admin.post(path, template, json={"name": "a", "description": "d"}, headers=key)
    spaced = admin.post(
        path,
        template,
        data='{ "description": "d",\n  "name": "a" }',
        headers={**key, "Content-Type": "application/json"},
    )
    assert spaced.status_code == 201 and spaced.json() == first.json()


def test_keys_are_private_to_each_caller(api, tenant_key, make):
    tenant = make.tenant()
    alice, bob = api(tenant_key(tenant)), api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/clients", _key()
    body = {"name": "Shared name"}
    mine = alice.post(path, "/tenants/{slug}/clients", json=body, headers=key)
    theirs = bob.post(path, "/tenants/{slug}/clients", json=body, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["client_id"] != theirs.json()["client_id"]
    assert mine.json()["client_secret"] != theirs.json()["client_secret"]


def test_a_failed_create_does_not_use_up_the_key(api, tenant_key, make):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/users", _key()
    template = "/tenants/{slug}/users"
    refused = admin.post(path, template, json={"email": "not an address"}, headers=key)
    assert refused.status_code == 422
    fixed = admin.post(path, template, json={"email": "not an address"}, headers=key)
    assert fixed.status_code == 422, "a failure is not replayed but run again"
    made = admin.post(path, template, json={"email": "c@example.com"}, headers=key)
    assert made.status_code == 201


@pytest.mark.parametrize("value", ["", '"' + "x" * 300 + '"', "caf\u00e9"])
def test_a_malformed_key_is_400(api, tenant_key, make, value):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    response = admin.post(
        f"/tenants/{tenant.slug}/roles",
        "/tenants/{slug}/roles",
        json={"name": "r"},
        headers={"Idempotency-Key": value.encode().decode("latin-1")},
    )
    assert response.status_code == 400


def test_concurrent_duplicates_create_one_object(api, tenant_key, make):
    """While the first request runs, a duplicate gets 409; after it, the stored answer."""
    tenant = make.tenant()
    token = tenant_key(tenant)  # one caller, several connections
    callers = [api(token) for _ in range(6)]
    path, key = f"/tenants/{tenant.slug}/clients", _key()
    start = threading.Barrier(len(callers))
    answers: list[tuple[int, dict]] = []

    def create(caller) -> None:
        start.wait()
        response = caller.post(path, "/tenants/{slug}/clients", json={"name": "Once"}, headers=key)
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=create, args=(caller,)) for caller in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [body for status, body in answers if status == 201]
    assert {status for status, _ in answers} <= {201, 409}
    assert created and all(body == created[0] for body in created)
    listed = callers[0].get(path, "/tenants/{slug}/clients").json()["items"]
    assert [c["client_id"] for c in listed] == [created[0]["client_id"]]


def test_records_in_flight_reused_and_sealed(services):
    """The store's side of it, on both backends: one claim per key; the body is sealed."""
    records = IdempotencyRecords(services.store, services.kek)
    owner, key = f"api-key:{secrets.token_hex(4)}|1", secrets.token_hex(8)
    claim = records.claim(owner, key, "fingerprint-1")
    assert isinstance(claim, Claim)
    with pytest.raises(StillInFlight):
        records.claim(owner, key, "fingerprint-1")
    with pytest.raises(KeyReused):
        records.claim(owner, key, "fingerprint-2")
    secret = "idp_cs_" + secrets.token_urlsafe(32)
    records.remember(claim, StoredResponse(201, f'{{"client_secret": "{secret}"}}'.encode(), {}))
    raw = services.store.get(claim.store_key)
    assert raw is not None and secret not in raw and digest(secret) not in raw
    replay = records.claim(owner, key, "fingerprint-1")
    assert isinstance(replay, StoredResponse) and secret.encode() in replay.body
    # Another caller with the same key starts afresh.
    assert isinstance(records.claim("api-key:other|1", key, "fingerprint-1"), Claim)


def test_a_replay_is_not_audited_as_a_second_create(api, tenant_key, make):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, key = f"/tenants/{tenant.slug}/roles", _key()
    for _ in range(3):
        assert admin.post(path, "/tenants/{slug}/roles", json={"name": "once"}, headers=key).ok
    events = admin.get(
        f"/tenants/{tenant.slug}/audit-events",
        "/tenants/{slug}/audit-events",
        params={"action": "role.create"},
    ).json()["items"]
    assert [event["target_id"] for event in events] == ["once"]
