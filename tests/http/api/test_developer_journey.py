"""The developer journey of issue 4 with documented calls only, every answer checked against
the OpenAPI document."""

from __future__ import annotations

import secrets

import requests


def test_developer_creates_tenant_key_client_users_and_uses_them(server, api, platform_key):
    platform = api(platform_key)
    slug = f"acme-{secrets.token_hex(3)}"

    created = platform.post("/tenants", json={"slug": slug, "name": "Acme"})
    assert created.status_code == 201
    assert created.json()["issuer"] == f"{server.url}/t/{slug}"
    assert created.headers["Location"] == f"/api/v1/tenants/{slug}"

    key = platform.post(
        f"/tenants/{slug}/api-keys", "/tenants/{slug}/api-keys", json={"name": "ci"}
    )
    assert key.status_code == 201
    assert key.json()["key"].startswith("idp_ak_")
    assert key.json()["hint"].endswith(key.json()["key"][-4:])
    admin = api(key.json()["key"])

    client = admin.post(
        f"/tenants/{slug}/clients",
        "/tenants/{slug}/clients",
        json={
            "name": "Orders service",
            "grant_types": ["client_credentials"],
            "scopes": ["orders:read"],
        },
    )
    assert client.status_code == 201
    client_id, client_secret = client.json()["client_id"], client.json()["client_secret"]
    shown = admin.get(f"/tenants/{slug}/clients/{client_id}", "/tenants/{slug}/clients/{client_id}")
    assert shown.status_code == 200
    assert "client_secret" not in shown.json() and "secret_digest" not in shown.json()

    token = requests.post(
        f"{server.url}/t/{slug}/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
    )
    assert token.status_code == 200 and token.json()["scope"] == "orders:read"

    user = admin.post(
        f"/tenants/{slug}/users",
        "/tenants/{slug}/users",
        json={
            "email": "Ada@Example.COM",
            "password": "correct horse battery",
            "name": "Ada Lovelace",
        },
    )
    assert user.status_code == 201
    assert user.json()["email"] == "ada@example.com"
    user_id, user_etag = user.json()["id"], user.headers["ETag"]

    found = admin.get(
        f"/tenants/{slug}/users", "/tenants/{slug}/users", params={"email": "ada@example.com"}
    )
    assert [u["id"] for u in found.json()["items"]] == [user_id]
    searched = admin.get(f"/tenants/{slug}/users", "/tenants/{slug}/users", params={"q": "lovel"})
    assert [u["id"] for u in searched.json()["items"]] == [user_id]

    for role in ("Admin", "Manager"):
        made = admin.post(f"/tenants/{slug}/roles", "/tenants/{slug}/roles", json={"name": role})
        assert made.status_code == 201
    template = "/tenants/{slug}/users/{user_id}"
    unknown_role = admin.patch(
        f"/tenants/{slug}/users/{user_id}",
        template,
        json={"roles": ["Ghost"]},
        headers={"If-Match": user_etag},
    )
    assert unknown_role.status_code == 422
    updated = admin.patch(
        f"/tenants/{slug}/users/{user_id}",
        template,
        json={"roles": ["Admin", "Manager"], "active": False},
        headers={"If-Match": user_etag},
    )
    assert updated.status_code == 200
    assert updated.json()["roles"] == ["Admin", "Manager"] and updated.json()["active"] is False
    inactive = admin.get(
        f"/tenants/{slug}/users", "/tenants/{slug}/users", params={"active": "false"}
    )
    assert [u["id"] for u in inactive.json()["items"]] == [user_id]

    roles = admin.get(f"/tenants/{slug}/roles", "/tenants/{slug}/roles").json()["items"]
    assert [(r["name"], r["members"]) for r in roles] == [("Admin", 1), ("Manager", 1)]

    member = admin.post(
        f"/tenants/{slug}/team",
        "/tenants/{slug}/team",
        json={"email": "owner@acme.example", "role": "owner"},
    )
    assert member.status_code == 201
    last_owner = admin.delete(
        f"/tenants/{slug}/team/{member.json()['id']}", "/tenants/{slug}/team/{member_id}"
    )
    assert last_owner.status_code == 409

    provider = admin.post(
        f"/tenants/{slug}/providers",
        "/tenants/{slug}/providers",
        json={"kind": "github", "client_id": "gh-client", "client_secret": "gh-secret-value"},
    )
    assert provider.status_code == 201
    assert provider.json()["client_secret_set"] is True and "gh-secret-value" not in provider.text

    own = admin.get("/tenants")
    assert [t["slug"] for t in own.json()["items"]] == [slug]


def test_lists_page_with_cursors(api, make, tenant_key):
    tenant = make.tenant()
    for _ in range(5):
        make.client(tenant)
    admin = api(tenant_key(tenant))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get(
            f"/tenants/{tenant.slug}/clients", "/tenants/{slug}/clients", params=params
        ).json()
        seen += [c["client_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


def test_a_revoked_key_stops_working_at_once(api, make, tenant_key, platform_key):
    tenant = make.tenant()
    key = tenant_key(tenant)
    admin = api(key)
    assert admin.get(f"/tenants/{tenant.slug}", "/tenants/{slug}").status_code == 200
    listed = admin.get(f"/tenants/{tenant.slug}/api-keys", "/tenants/{slug}/api-keys").json()[
        "items"
    ]
    key_id = next(k["id"] for k in listed if key.endswith(k["hint"][-4:]))
    revoked = api(platform_key).delete(
        f"/tenants/{tenant.slug}/api-keys/{key_id}", "/tenants/{slug}/api-keys/{key_id}"
    )
    assert revoked.status_code == 204
    refused = admin.get(f"/tenants/{tenant.slug}", "/tenants/{slug}")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_access_token_from_the_tenant_token_endpoint_is_accepted_with_its_scopes(
    server, api, make
):
    tenant = make.tenant()
    make.user(tenant, email="grace@example.com")
    issued = make.client(tenant, scopes=("users:read",))
    token = requests.post(
        f"{server.url}/t/{tenant.slug}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    ).json()["access_token"]
    automation = api(token)
    listed = automation.get(f"/tenants/{tenant.slug}/users", "/tenants/{slug}/users")
    assert listed.status_code == 200
    assert [u["email"] for u in listed.json()["items"]] == ["grace@example.com"]
    refused = automation.post(
        f"/tenants/{tenant.slug}/users", "/tenants/{slug}/users", json={"email": "x@example.com"}
    )
    assert refused.status_code == 403
    other = make.tenant()
    assert (
        automation.get(f"/tenants/{other.slug}/users", "/tenants/{slug}/users").status_code == 404
    )


def test_bad_bodies_are_problems_naming_the_fields(api, make, tenant_key):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    path, template = f"/tenants/{tenant.slug}/clients", "/tenants/{slug}/clients"
    unknown = admin.post(path, template, json={"name": "x", "colour": "red", "client_id": "mine"})
    assert unknown.status_code == 422
    assert {e["field"] for e in unknown.json()["errors"]} == {"colour", "client_id"}
    assert unknown.headers["Content-Type"] == "application/problem+json"
    wrong_type = admin.post(path, template, json={"name": 5})
    assert wrong_type.status_code == 422 and wrong_type.json()["errors"][0]["field"] == "name"
    not_json = admin.post(
        path, template, data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert not_json.status_code == 415
    bad_uri = admin.post(
        path,
        template,
        json={
            "name": "x",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["http://evil.example/cb"],
        },
    )
    assert bad_uri.status_code == 422 and bad_uri.json()["errors"][0]["field"] == "redirect_uris"
    roles, roles_template = f"/tenants/{tenant.slug}/roles", "/tenants/{slug}/roles"
    for name in ("line\nbreak", "a/b", "bell\x07"):
        refused = admin.post(roles, roles_template, json={"name": name})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "name"
    accented = admin.post(roles, roles_template, json={"name": "Équipe ventes"})
    assert accented.status_code == 201
    assert accented.headers["Location"].endswith("/roles/%C3%89quipe%20ventes")
