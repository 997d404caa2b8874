"""The audit log over real HTTP: every management write and security event, never a secret."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from idp.http.api.audit_trail import action_of
from idp.models.audit import AuditEvent
from idp.services.management.api_keys import OPERATOR, SCOPES, create_api_key
from tests.http.api.test_isolation_and_scopes import ENDPOINTS

EVENTS = "/tenants/{slug}/audit-events"
PASSWORD = "a long enough password 42"


@pytest.fixture
def keyed(make, services):
    """A tenant and a key of it with the given scopes: (tenant, secret, actor label)."""

    def build(scopes: tuple[str, ...] | None = None, tenant=None):
        tenant = tenant or make.tenant()
        issued = create_api_key(services.uow(), OPERATOR, tenant, "auditor", scopes)
        return tenant, issued.secret, f"api-key:{issued.key.key_id}"

    return build


def events(admin, slug: str, **params: Any) -> list[dict[str, Any]]:
    response = admin.get(EVENTS.format(slug=slug), EVENTS, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def all_pages(admin, path: str, template: str, **params: Any) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = admin.get(path, template, params={**params, "cursor": cursor} if cursor else params)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return found


def test_management_writes_are_recorded_with_actor_target_ip_and_request_id(api, keyed):
    tenant, key, actor = keyed()
    admin = api(key)
    base = f"/tenants/{tenant.slug}"
    created = admin.post(
        f"{base}/clients",
        "/tenants/{slug}/clients",
        json={"name": "Billing", "scopes": ["read"]},
        headers={"X-Request-Id": "audit-create-1"},
    )
    assert created.status_code == 201
    client_id = created.json()["client_id"]
    template = "/tenants/{slug}/clients/{client_id}"
    admin.post(f"{base}/clients/{client_id}/secret", f"{template}/secret")
    assert admin.delete(f"{base}/clients/{client_id}", template).status_code == 204

    found = events(admin, tenant.slug)
    assert [e["action"] for e in found] == [
        "client.delete",
        "client.rotate_secret",
        "client.create",
    ]
    create = found[-1]
    assert create["actor"] == actor
    assert create["tenant"] == tenant.slug
    assert (create["target_type"], create["target_id"]) == ("client", client_id)
    assert create["outcome"] == "success"
    assert create["client_ip"] == "127.0.0.1"
    assert create["request_id"] == "audit-create-1"
    assert create["details"]["status"] == 201
    assert create["details"]["fields"] == ["name", "scopes"]
    assert {e["target_id"] for e in found} == {client_id}


def test_an_update_records_which_fields_changed_never_their_values(api, keyed):
    tenant, key, _ = keyed()
    admin = api(key)
    template = "/tenants/{slug}/roles/{role}"
    path = template.format(slug=tenant.slug, role="auditors")
    admin.post(f"/tenants/{tenant.slug}/roles", "/tenants/{slug}/roles", json={"name": "auditors"})
    current = admin.get(path, template)
    # Send the precondition when the API offers one (ETag/If-Match on updates).
    headers = {"If-Match": current.headers["ETag"]} if "ETag" in current.headers else {}
    changed = admin.patch(path, template, json={"description": "payroll-only"}, headers=headers)
    assert changed.status_code == 200

    (update,) = events(admin, tenant.slug, action="role.update")
    assert (update["target_id"], update["details"]["fields"]) == ("auditors", ["description"])
    assert "payroll-only" not in json.dumps(update)


@pytest.mark.parametrize(
    ("method", "template", "body", "scope"),
    [e for e in ENDPOINTS if e[0] != "GET"],
    ids=[f"{m} {t}" for m, t, _, _ in ENDPOINTS if m != "GET"],
)
def test_every_write_endpoint_is_audited_even_when_refused(
    api, keyed, module_tenant, method, template, body, scope
):
    # One tenant for all cases: each case's key is its own actor, and refused calls change nothing.
    tenant, key, actor = keyed(tuple(s for s in SCOPES if s != scope), tenant=module_tenant)
    path = template.format(
        slug=tenant.slug,
        client_id="c1",
        user_id="u1",
        key_id="k1",
        role="r1",
        member_id="m1",
        provider="p1",
    )
    assert api(key).call(method, path, template, json=body).status_code == 403

    reader = api(keyed(("audit:read",), tenant=tenant)[1])
    (event,) = events(reader, tenant.slug, actor=actor)
    assert event["outcome"] == "denied"
    assert event["details"]["status"] == 403
    assert event["action"].count(".") == 1
    assert "fields" not in event["details"]  # a refused body is not described at all


def test_action_names_read_as_target_and_verb():
    assert action_of("api.create_client") == "client.create"
    assert action_of("api.revoke_api_key") == "api_key.revoke"
    assert action_of("api.add_team_member") == "team_member.add"
    assert action_of("api.change_team_role") == "team_member.change_role"
    assert action_of("api.rotate_client_secret") == "client.rotate_secret"


def test_details_never_hold_secrets_passwords_or_digests(api, keyed, platform_key, services):
    tenant, key, _ = keyed()
    admin = api(key)
    base, slug = f"/tenants/{tenant.slug}", "/tenants/{slug}"
    client = admin.post(f"{base}/clients", f"{slug}/clients", json={"name": "Confidential"})
    client_id = client.json()["client_id"]
    rotated = admin.post(
        f"{base}/clients/{client_id}/secret", f"{slug}/clients/{{client_id}}/secret"
    )
    new_key = admin.post(f"{base}/api-keys", f"{slug}/api-keys", json={"name": "ci"})
    user = admin.post(
        f"{base}/users", f"{slug}/users", json={"email": "pat@example.com", "password": PASSWORD}
    )
    provider = admin.post(
        f"{base}/providers",
        f"{slug}/providers",
        json={"kind": "github", "client_id": "gh", "client_secret": "upstream-secret-value"},
    )
    statuses = [r.status_code for r in (client, rotated, new_key, user, provider)]
    assert statuses == [201, 200, 201, 201, 201]
    secrets = [
        client.json()["client_secret"],
        rotated.json()["client_secret"],
        new_key.json()["key"],
        key,
        platform_key,
        PASSWORD,
        "upstream-secret-value",
    ]
    forbidden = secrets + [hashlib.sha256(s.encode()).hexdigest() for s in secrets]

    with services.uow() as uow:
        rows = uow.session.scalars(select(AuditEvent)).all()
        stored = [
            json.dumps({c.name: str(getattr(r, c.name)) for c in r.__table__.c}) for r in rows
        ]
    assert any(client_id in row for row in stored)  # the events are there...
    for row in stored:  # ...and none of them holds a secret, a password or a digest
        for secret in forbidden:
            assert secret not in row


def test_a_refusal_is_filed_under_the_callers_tenant_never_the_other(api, keyed):
    a, a_key, a_actor = keyed()
    b, b_key, _ = keyed()
    b_client = api(b_key).post(
        f"/tenants/{b.slug}/clients", "/tenants/{slug}/clients", json={"name": "B app"}
    )
    b_client_id = b_client.json()["client_id"]
    template = "/tenants/{slug}/clients/{client_id}"
    probe = api(a_key).delete(f"/tenants/{b.slug}/clients/{b_client_id}", template)
    assert probe.status_code == 404

    (refused,) = events(api(a_key), a.slug)
    assert (refused["action"], refused["outcome"], refused["actor"]) == (
        "client.delete",
        "denied",
        a_actor,
    )
    assert refused["tenant"] == a.slug
    b_events = events(api(b_key), b.slug)
    assert [e["action"] for e in b_events] == ["client.create"]
    assert a_actor not in {e["actor"] for e in b_events}


def test_a_tenant_key_never_sees_another_tenants_events(api, keyed):
    a, a_key, _ = keyed()
    b, b_key, _ = keyed()
    for tenant, key in ((a, a_key), (b, b_key)):
        response = api(key).post(
            f"/tenants/{tenant.slug}/roles",
            "/tenants/{slug}/roles",
            json={"name": f"role-of-{tenant.slug}"},
        )
        assert response.status_code == 201
    a_admin = api(a_key)
    seen = all_pages(a_admin, f"/tenants/{a.slug}/audit-events", EVENTS, limit=1)
    assert [e["target_id"] for e in seen] == [f"role-of-{a.slug}"]
    assert events(a_admin, a.slug, target_id=f"role-of-{b.slug}") == []
    assert a_admin.get(f"/tenants/{b.slug}/audit-events", EVENTS).status_code == 404
    assert a_admin.get("/audit-events").status_code == 403


def test_tenant_creation_and_deletion_are_installation_events(api, platform_key, services):
    platform = api(platform_key)
    slug = f"audited-{datetime.now(UTC):%H%M%S%f}"
    assert platform.post("/tenants", json={"slug": slug, "name": "Audited"}).status_code == 201
    assert platform.delete(f"/tenants/{slug}", "/tenants/{slug}").status_code == 204

    found = platform.get("/audit-events", params={"target_id": slug}).json()["items"]
    assert [(e["action"], e["tenant"]) for e in found] == [
        ("tenant.delete", None),
        ("tenant.create", None),
    ]
    assert {e["actor"] for e in found} == {found[0]["actor"]}
    assert found[0]["actor"].startswith("api-key:")


def test_platform_log_spans_tenants_and_filters_by_tenant(api, platform_key, keyed):
    a, a_key, _ = keyed()
    b, b_key, _ = keyed()
    for tenant, key in ((a, a_key), (b, b_key)):
        api(key).post(
            f"/tenants/{tenant.slug}/roles", "/tenants/{slug}/roles", json={"name": "shared"}
        )
    platform = api(platform_key)
    both = platform.get("/audit-events", params={"action": "role.create", "limit": 200}).json()
    assert {a.slug, b.slug} <= {e["tenant"] for e in both["items"]}
    only_a = platform.get("/audit-events", params={"tenant": a.slug}).json()["items"]
    assert {e["tenant"] for e in only_a} == {a.slug}
    unknown = platform.get("/audit-events", params={"tenant": "no-such-tenant"})
    assert unknown.status_code == 400


def test_filters_and_newest_first_pagination(api, keyed):
    tenant, key, actor = keyed()
    admin = api(key)
    base = f"/tenants/{tenant.slug}"
    names = [f"role-{n}" for n in range(5)]
    for name in names:
        admin.post(f"{base}/roles", "/tenants/{slug}/roles", json={"name": name})
    admin.post(f"{base}/clients", "/tenants/{slug}/clients", json={"name": "App"})

    paged = all_pages(admin, f"{base}/audit-events", EVENTS, limit=2)
    assert [e["target_id"] for e in paged if e["action"] == "role.create"] == names[::-1]
    assert [e["id"] for e in paged] == sorted((e["id"] for e in paged), reverse=True)
    assert len({e["id"] for e in paged}) == 6

    assert [e["action"] for e in events(admin, tenant.slug, action="client.create")] == [
        "client.create"
    ]
    assert len(events(admin, tenant.slug, action="role.*")) == 5
    assert len(events(admin, tenant.slug, action="role%")) == 0  # a filter is not a pattern
    assert len(events(admin, tenant.slug, actor=actor)) == 6
    assert events(admin, tenant.slug, actor="api-key:someone-else") == []
    assert [e["target_id"] for e in events(admin, tenant.slug, target_id="role-3")] == ["role-3"]

    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(hours=1)).isoformat()
    assert len(events(admin, tenant.slug, since=earlier, until=later)) == 6
    assert events(admin, tenant.slug, since=later) == []
    assert events(admin, tenant.slug, until=earlier) == []


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2026-01-01T00:00:00"},
        {"cursor": "%%%"},
        {"limit": "0"},
        # PostgreSQL refuses U+0000 in a query parameter: a 500 before it was checked.
        {"target_id": "a\x00b"},
    ],
)
def test_malformed_filters_are_400(api, keyed, params):
    tenant, key, _ = keyed()
    response = api(key).get(f"/tenants/{tenant.slug}/audit-events", EVENTS, params=params)
    assert response.status_code == 400


def test_failed_client_authentication_is_audited_at_each_endpoint(
    api, keyed, make, server, http: requests.Session
):
    tenant, key, _ = keyed()
    client = make.client(tenant)
    wrong = (client.client.client_id, "idp_cs_wrong-secret-presented")
    for endpoint, data in (
        ("token", {"grant_type": "client_credentials"}),
        ("introspect", {"token": "x"}),
        ("revoke", {"token": "x"}),
    ):
        response = http.post(f"{make.issuer(tenant)}/{endpoint}", data=data, auth=wrong)
        assert response.status_code == 401
    http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=("no-such-client", "whatever"),
    )

    found = events(api(key), tenant.slug, action="client.authentication_failed")
    assert [e["details"]["endpoint"] for e in found] == [
        "token",
        "revocation",
        "introspection",
        "token",
    ]
    assert [e["target_id"] for e in found] == ["no-such-client"] + [client.client.client_id] * 3
    assert [e["details"]["known_client"] for e in found] == [False, True, True, True]
    assert {(e["outcome"], e["actor"], e["client_ip"]) for e in found} == {
        ("failed", "anonymous", "127.0.0.1")
    }
    assert all("wrong-secret" not in json.dumps(e) for e in found)


def test_tripping_the_failure_limit_is_audited(api, keyed, make, server, http):
    tenant, key, _ = keyed()
    client = make.client(tenant)
    limit = server.services.settings.rate_limits.failed_auth_per_minute
    statuses = []
    # The limit counts per minute: crossing a minute boundary may take up to twice the limit.
    for _ in range(2 * limit + 2):
        response = http.post(
            f"{make.issuer(tenant)}/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client.client_id, "wrong"),
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429

    (tripped,) = events(api(key), tenant.slug, action="client.authentication_rate_limited")
    assert tripped["outcome"] == "denied"
    assert tripped["target_id"] == client.client.client_id
    assert tripped["details"]["retry_after"] >= 1
