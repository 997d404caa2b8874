"""Dynamic registration from the tenant admin's side: the setting, initial access tokens (shown
once, digests only, scopes, isolation), discovery following the setting, and the audit log."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from idp.models.registration import InitialAccessToken

SETTINGS = "/tenants/{slug}/settings"
TOKENS = "/tenants/{slug}/initial-access-tokens"
TOKEN = "/tenants/{slug}/initial-access-tokens/{token_id}"
EVENTS = "/tenants/{slug}/audit-events"
CC_CLIENT = {"client_name": "robot", "grant_types": ["client_credentials"]}


@pytest.fixture
def admin_of(api, tenant_key, make):
    def build(scopes=None):
        tenant = make.tenant()
        return tenant, api(tenant_key(tenant, scopes))

    return build


def _set_policy(admin, slug, policy):
    return admin.patch(
        SETTINGS.format(slug=slug),
        SETTINGS,
        json={"policies": {"dynamic_registration": policy}},
        headers={"If-Match": "*"},
    )


def test_the_setting_is_off_by_default_and_requires_a_token_once_on(admin_of):
    tenant, admin = admin_of()
    shown = admin.get(SETTINGS.format(slug=tenant.slug), SETTINGS).json()
    assert shown["policies"]["dynamic_registration"] == {
        "enabled": False,
        "initial_access_token_required": True,
    }
    on = _set_policy(admin, tenant.slug, {"enabled": True})
    assert on.status_code == 200, on.text
    assert on.json()["policies"]["dynamic_registration"] == {
        "enabled": True,
        "initial_access_token_required": True,
    }
    opened = _set_policy(admin, tenant.slug, {"initial_access_token_required": False})
    assert opened.json()["policies"]["dynamic_registration"]["enabled"] is True
    reset = _set_policy(admin, tenant.slug, None)
    assert reset.json()["policies"]["dynamic_registration"] == {
        "enabled": False,
        "initial_access_token_required": True,
    }


@pytest.mark.parametrize("policy", [{"enabled": "yes"}, {"unknown": True}, "on", {"enabled": 1}])
def test_a_malformed_setting_is_422(admin_of, policy):
    tenant, admin = admin_of()
    assert _set_policy(admin, tenant.slug, policy).status_code == 422


@pytest.mark.in_process
def test_discovery_follows_the_setting(admin_of, make, http):
    tenant, admin = admin_of()
    discovery = f"{make.issuer(tenant)}/.well-known/openid-configuration"
    assert "registration_endpoint" not in http.get(discovery).json()
    _set_policy(admin, tenant.slug, {"enabled": True})
    assert http.get(discovery).json()["registration_endpoint"] == f"{make.issuer(tenant)}/register"
    _set_policy(admin, tenant.slug, {"enabled": False})
    assert "registration_endpoint" not in http.get(discovery).json()


def test_an_initial_access_token_is_shown_once_and_stored_as_a_digest(
    admin_of, services, make, http
):
    tenant, admin = admin_of()
    created = admin.post(
        TOKENS.format(slug=tenant.slug),
        TOKENS,
        json={"name": "partner onboarding", "max_uses": 5},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["token"]
    assert secret.startswith("idp_iat_") and len(secret) >= len("idp_iat_") + 43  # 256 bits
    assert body["hint"] == f"idp_iat_…{secret[-4:]}"
    assert (body["max_uses"], body["uses"], body["expires_at"]) == (5, 0, None)
    assert created.headers["Location"].endswith(body["id"])

    listed = admin.get(TOKENS.format(slug=tenant.slug), TOKENS).json()["items"]
    single = admin.get(TOKEN.format(slug=tenant.slug, token_id=body["id"]), TOKEN).json()
    assert secret not in str(listed) + str(single)
    with services.uow() as uow:
        row = uow.session.scalar(
            select(InitialAccessToken).where(InitialAccessToken.token_id == body["id"])
        )
        assert row.digest == hashlib.sha256(secret.encode()).hexdigest()

    # It works at the registration endpoint, and counts its uses.
    _set_policy(admin, tenant.slug, {"enabled": True})
    registered = http.post(
        f"{make.issuer(tenant)}/register",
        json=CC_CLIENT,
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert registered.status_code == 201, registered.text
    assert admin.get(TOKEN.format(slug=tenant.slug, token_id=body["id"]), TOKEN).json()["uses"] == 1


def test_a_deleted_initial_access_token_no_longer_registers(admin_of, make, http):
    tenant, admin = admin_of()
    _set_policy(admin, tenant.slug, {"enabled": True})
    created = admin.post(TOKENS.format(slug=tenant.slug), TOKENS, json={}).json()
    path = TOKEN.format(slug=tenant.slug, token_id=created["id"])
    assert admin.delete(path, TOKEN).status_code == 204
    assert admin.get(path, TOKEN).status_code == 404
    refused = http.post(
        f"{make.issuer(tenant)}/register",
        json=CC_CLIENT,
        headers={"Authorization": f"Bearer {created['token']}"},
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"max_uses": 0},
        {"max_uses": True},
        {"max_uses": 10**12},
        {"expires_at": "2020-01-01T00:00:00+00:00"},
        {"expires_at": "2030-01-01T00:00:00"},
        {"expires_at": "9999-12-31T23:59:59-01:00"},
        {"name": ""},
        {"token": "idp_iat_chosen"},
    ],
)
def test_invalid_token_requests_are_422(admin_of, body):
    tenant, admin = admin_of()
    assert admin.post(TOKENS.format(slug=tenant.slug), TOKENS, json=body).status_code == 422


def test_an_expiry_is_kept(admin_of):
    tenant, admin = admin_of()
    expires = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    created = admin.post(
        TOKENS.format(slug=tenant.slug), TOKENS, json={"expires_at": expires.isoformat()}
    )
    assert created.status_code == 201
    assert datetime.fromisoformat(created.json()["expires_at"]) == expires


@pytest.mark.parametrize(
    ("method", "template", "scope"),
    [
        ("GET", TOKENS, "clients:read"),
        ("POST", TOKENS, "clients:write"),
        ("GET", TOKEN, "clients:read"),
        ("DELETE", TOKEN, "clients:write"),
    ],
)
def test_scopes_and_tenant_isolation(admin_of, api, tenant_key, method, template, scope):
    tenant, admin = admin_of()
    created = admin.post(TOKENS.format(slug=tenant.slug), TOKENS, json={}).json()
    path = template.format(slug=tenant.slug, token_id=created["id"])
    lacking = api(tenant_key(tenant, tuple({"clients:read", "clients:write"} - {scope})))
    assert lacking.call(method, path, template, json={}).status_code == 403

    other, other_admin = admin_of()
    # Another tenant's key: 404 by path, and 404 for this token's id under its own tenant.
    assert other_admin.call(method, path, template, json={}).status_code == 404
    if "{token_id}" in template:
        own_path = template.format(slug=other.slug, token_id=created["id"])
        assert other_admin.call(method, own_path, template).status_code == 404
    assert (
        admin.get(TOKEN.format(slug=tenant.slug, token_id=created["id"]), TOKEN).status_code == 200
    )


def test_registrations_are_audited_under_the_initial_token_or_the_client(admin_of, make, http):
    tenant, admin = admin_of()
    _set_policy(admin, tenant.slug, {"enabled": True})
    created = admin.post(TOKENS.format(slug=tenant.slug), TOKENS, json={}).json()
    issuer = make.issuer(tenant)
    with_token = {"Authorization": f"Bearer {created['token']}"}
    registered = http.post(f"{issuer}/register", json=CC_CLIENT, headers=with_token).json()
    refused = http.post(
        f"{issuer}/register", json={**CC_CLIENT, "scope": "users:write"}, headers=with_token
    )
    assert refused.status_code == 400
    assert http.post(f"{issuer}/register", json=CC_CLIENT).status_code == 401
    rat = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    uri = registered["registration_client_uri"]
    assert http.put(uri, json={**registered, "client_name": "v2"}, headers=rat).status_code == 200
    assert http.delete(uri, headers=rat).status_code == 204

    found = admin.get(EVENTS.format(slug=tenant.slug), EVENTS, params={"action": "client.*"})
    events = {(e["action"], e["outcome"]): e for e in found.json()["items"]}
    client_id = registered["client_id"]
    assert events[("client.register", "success")]["actor"] == f"dcr:{created['id']}"
    assert events[("client.register", "success")]["target_id"] == client_id
    assert events[("client.register", "success")]["details"]["fields"] == [
        "client_name",
        "grant_types",
    ]
    assert events[("client.register", "failed")]["actor"] == f"dcr:{created['id']}"
    assert events[("client.update", "success")]["actor"] == f"dcr:{client_id}"
    assert events[("client.delete", "success")]["actor"] == f"dcr:{client_id}"
    rejected = admin.get(
        EVENTS.format(slug=tenant.slug), EVENTS, params={"action": "registration.*"}
    ).json()["items"]
    assert [(e["action"], e["actor"], e["outcome"]) for e in rejected] == [
        ("registration.token_rejected", "anonymous", "failed")
    ]
    everything = str(found.json()) + str(rejected)
    assert created["token"] not in everything
    assert registered["registration_access_token"] not in everything
    assert registered["client_secret"] not in everything


def test_open_registrations_are_audited_under_the_new_client(admin_of, make, http):
    tenant, admin = admin_of()
    _set_policy(admin, tenant.slug, {"enabled": True, "initial_access_token_required": False})
    registered = http.post(f"{make.issuer(tenant)}/register", json=CC_CLIENT).json()
    (event,) = admin.get(
        EVENTS.format(slug=tenant.slug), EVENTS, params={"action": "client.register"}
    ).json()["items"]
    assert event["actor"] == f"dcr:{registered['client_id']}"
