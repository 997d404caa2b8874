"""Tenant isolation and scopes over every tenant-scoped endpoint of the management API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from idp.services.accounts.roles import create_role
from idp.services.accounts.users import get_user
from idp.services.management.api_keys import OPERATOR, SCOPES, create_api_key, list_api_keys
from idp.services.management.team import add_member, list_members
from idp.services.oauth_clients.clients import get_client
from idp.services.tenancy.providers import create_provider, get_provider
from idp.services.tenancy.tenants import get_tenant
from tests.support.factories import Factory


@dataclass
class World:
    """One tenant with one object of each kind: what every endpoint can touch."""

    slug: str
    client_id: str
    user_id: str
    key_id: str
    role: str = "staff"
    member_id: str = ""
    provider: str = "github"

    def ids(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "user_id": self.user_id,
            "key_id": self.key_id,
            "role": self.role,
            "member_id": self.member_id,
            "provider": self.provider,
        }

    def fill(self, template: str, slug: str | None = None) -> str:
        return template.format(slug=slug or self.slug, **self.ids())


ENDPOINTS = [
    ("GET", "/tenants/{slug}", None, "tenants:read"),
    ("PATCH", "/tenants/{slug}", {"name": "Renamed"}, "tenants:write"),
    ("DELETE", "/tenants/{slug}", None, "tenants:write"),
    ("GET", "/tenants/{slug}/settings", None, "tenants:read"),
    ("PATCH", "/tenants/{slug}/settings", {"policies": {"mfa": "required"}}, "tenants:write"),
    ("GET", "/tenants/{slug}/api-keys", None, "keys:read"),
    ("POST", "/tenants/{slug}/api-keys", {"name": "another"}, "keys:write"),
    ("GET", "/tenants/{slug}/api-keys/{key_id}", None, "keys:read"),
    ("DELETE", "/tenants/{slug}/api-keys/{key_id}", None, "keys:write"),
    ("GET", "/tenants/{slug}/clients", None, "clients:read"),
    ("POST", "/tenants/{slug}/clients", {"name": "another"}, "clients:write"),
    ("GET", "/tenants/{slug}/clients/{client_id}", None, "clients:read"),
    ("PATCH", "/tenants/{slug}/clients/{client_id}", {"name": "Renamed"}, "clients:write"),
    ("DELETE", "/tenants/{slug}/clients/{client_id}", None, "clients:write"),
    ("POST", "/tenants/{slug}/clients/{client_id}/secret", None, "clients:write"),
    ("GET", "/tenants/{slug}/initial-access-tokens", None, "clients:read"),
    ("POST", "/tenants/{slug}/initial-access-tokens", {"name": "another"}, "clients:write"),
    ("GET", "/tenants/{slug}/users", None, "users:read"),
    ("POST", "/tenants/{slug}/users", {"email": "new@example.com"}, "users:write"),
    ("GET", "/tenants/{slug}/users/{user_id}", None, "users:read"),
    ("PATCH", "/tenants/{slug}/users/{user_id}", {"active": False}, "users:write"),
    ("DELETE", "/tenants/{slug}/users/{user_id}", None, "users:write"),
    ("DELETE", "/tenants/{slug}/users/{user_id}/sessions", None, "users:write"),
    ("GET", "/tenants/{slug}/roles", None, "users:read"),
    ("POST", "/tenants/{slug}/roles", {"name": "new-role"}, "users:write"),
    ("GET", "/tenants/{slug}/roles/{role}", None, "users:read"),
    ("PATCH", "/tenants/{slug}/roles/{role}", {"description": "x"}, "users:write"),
    ("DELETE", "/tenants/{slug}/roles/{role}", None, "users:write"),
    ("GET", "/tenants/{slug}/team", None, "tenants:read"),
    ("POST", "/tenants/{slug}/team", {"email": "x@example.com", "role": "admin"}, "tenants:write"),
    ("GET", "/tenants/{slug}/team/{member_id}", None, "tenants:read"),
    ("PATCH", "/tenants/{slug}/team/{member_id}", {"role": "viewer"}, "tenants:write"),
    ("DELETE", "/tenants/{slug}/team/{member_id}", None, "tenants:write"),
    ("GET", "/tenants/{slug}/providers", None, "tenants:read"),
    (
        "POST",
        "/tenants/{slug}/providers",
        {"kind": "github", "slug": "gh2", "client_id": "c"},
        "tenants:write",
    ),
    ("GET", "/tenants/{slug}/providers/{provider}", None, "tenants:read"),
    ("PATCH", "/tenants/{slug}/providers/{provider}", {"enabled": False}, "tenants:write"),
    ("DELETE", "/tenants/{slug}/providers/{provider}", None, "tenants:write"),
    ("GET", "/tenants/{slug}/audit-events", None, "audit:read"),
    ("GET", "/tenants/{slug}/usage", None, "usage:read"),
]
IDS = [f"{method} {template}" for method, template, _, _ in ENDPOINTS]


def _build_world(make: Factory) -> tuple[World, object]:
    tenant = make.tenant()
    client = make.client(tenant)
    user = make.user(tenant, roles=("staff",), create_missing_roles=True)
    key = create_api_key(make.services.uow(), OPERATOR, tenant, "resident", None)
    uow = make.services.uow()
    member = add_member(uow, tenant, "owner@example.com", "owner", "test")
    add_member(uow, tenant, "second@example.com", "owner", "test")
    create_provider(uow, make.services.kek, tenant, {"kind": "github", "client_id": "gh"})
    world = World(
        tenant.slug,
        client.client.client_id,
        user.subject,
        key.key.key_id,
        member_id=member.member_id,
    )
    return world, tenant


@pytest.fixture(scope="module")
def worlds(server):
    """Two tenants shared by the module: every call below is refused, so nothing changes them."""
    make = Factory(server.services, server.url)
    a, b = _build_world(make), _build_world(make)
    # Objects named only in B, to ask for them under A's path.
    uow = make.services.uow()
    create_role(uow, b[1], "b-only")
    create_provider(
        uow,
        make.services.kek,
        b[1],
        {"kind": "oidc", "slug": "b-only", "client_id": "c", "issuer": "https://op.example"},
    )
    return a, b


@pytest.fixture
def world(worlds):
    built = iter(worlds)
    return lambda: next(built)


def _still_there(services, tenant, world: World) -> None:
    assert get_client(services.uow(), tenant, world.client_id).name == "Test client"
    user = get_user(services.uow(), tenant, world.user_id)
    assert user.active is True and user.roles == ("staff",)
    assert [m.role for m in list_members(services.uow(), tenant)] == ["owner", "owner"]
    assert get_provider(services.uow(), tenant, "github").enabled is True
    assert get_tenant(services.uow(), tenant.slug).mfa_policy == "off"
    assert [
        k.revoked_at for k in list_api_keys(services.uow(), tenant) if k.key_id == world.key_id
    ] == [None]


@pytest.mark.parametrize(("method", "template", "body", "scope"), ENDPOINTS, ids=IDS)
def test_a_key_of_tenant_a_gets_404_for_tenant_b_by_path(
    api, tenant_key, services, world, method, template, body, scope
):
    _a, a_tenant = world()
    b, b_tenant = world()
    response = api(tenant_key(a_tenant)).call(method, b.fill(template), template, json=body)
    assert response.status_code == 404
    _still_there(services, b_tenant, b)


@pytest.mark.parametrize(
    ("method", "template", "body", "scope"),
    [e for e in ENDPOINTS if "{" in e[1][16:]],
    ids=[i for i, e in zip(IDS, ENDPOINTS, strict=True) if "{" in e[1][16:]],
)
def test_a_key_of_tenant_a_gets_404_for_tenant_b_objects_by_id(
    api, tenant_key, services, world, method, template, body, scope
):
    a, a_tenant = world()
    b, b_tenant = world()
    # Tenant A's own path, tenant B's object ids.
    path = template.format(slug=a.slug, **{**b.ids(), "role": "b-only", "provider": "b-only"})
    response = api(tenant_key(a_tenant)).call(method, path, template, json=body)
    assert response.status_code == 404
    _still_there(services, b_tenant, b)


def test_lists_never_include_another_tenants_objects(api, tenant_key, world):
    a, a_tenant = world()
    b, _ = world()
    admin = api(tenant_key(a_tenant))
    clients = admin.get(f"/tenants/{a.slug}/clients", "/tenants/{slug}/clients").json()["items"]
    users = admin.get(f"/tenants/{a.slug}/users", "/tenants/{slug}/users").json()["items"]
    keys = admin.get(f"/tenants/{a.slug}/api-keys", "/tenants/{slug}/api-keys").json()["items"]
    tenants = admin.get("/tenants").json()["items"]
    assert [c["client_id"] for c in clients] == [a.client_id]
    assert [u["id"] for u in users] == [a.user_id]
    assert b.key_id not in [k["id"] for k in keys]
    assert [t["slug"] for t in tenants] == [a.slug]
    assert (
        admin.get(
            f"/tenants/{a.slug}/users", "/tenants/{slug}/users", params={"q": "example"}
        ).json()["items"]
        == users
    )


@pytest.mark.parametrize(("method", "template", "body", "scope"), ENDPOINTS, ids=IDS)
def test_each_endpoint_refuses_a_key_without_its_scope(
    api, tenant_key, world, method, template, body, scope
):
    a, a_tenant = world()
    lacking = tuple(s for s in SCOPES if s != scope)
    response = api(tenant_key(a_tenant, lacking)).call(
        method, a.fill(template), template, json=body
    )
    assert response.status_code == 403
    assert scope in response.json()["detail"]


def test_a_key_cannot_mint_a_wider_key(api, tenant_key, make):
    tenant = make.tenant()
    narrow = api(tenant_key(tenant, ("keys:write", "clients:read")))
    path, template = f"/tenants/{tenant.slug}/api-keys", "/tenants/{slug}/api-keys"
    wider = narrow.post(path, template, json={"name": "wider", "scopes": ["users:write"]})
    assert wider.status_code == 422
    same = narrow.post(path, template, json={"name": "same"})
    assert same.status_code == 201
    assert same.json()["scopes"] == ["clients:read", "keys:write"]


def test_only_platform_keys_create_or_delete_tenants(api, tenant_key, make):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    assert admin.post("/tenants", json={"slug": "mine-too", "name": "No"}).status_code == 403
    assert admin.delete(f"/tenants/{tenant.slug}", "/tenants/{slug}").status_code == 403


def test_no_credentials_or_garbage_are_401(api, make):
    tenant = make.tenant()
    for token in (
        None,
        "idp_ak_not-a-real-key",
        "not.a.jwt",
        "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
    ):
        response = api(token).get(f"/tenants/{tenant.slug}", "/tenants/{slug}")
        assert response.status_code == 401, token
