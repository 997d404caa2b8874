"""Issue 11 §3, management API: an admin lists a person's upstream identities and unlinks
one, never the last way in; each write audited; every answer checked against the OpenAPI
document. The identities were linked by real sign-ins through an upstream."""

from __future__ import annotations

import requests

from idp.services.audit import AuditFilter, page_events
from tests.support.federation import federated_scene

IDENTITIES = "/tenants/{slug}/users/{user_id}/identities"
IDENTITY = "/tenants/{slug}/users/{user_id}/identities/{identity_id}"


def test_an_admin_lists_and_unlinks_identities(make, services, api, tenant_key, upstream_idp):
    scene = federated_scene(make, upstream_idp)
    scene.upstream.person("api@example.org")
    with requests.Session() as http:
        claims = scene.signed_in_through(http, "api@example.org")
    subject = claims["sub"]
    reader = api(tenant_key(scene.tenant, ("users:read",)))
    path = f"/tenants/{scene.tenant.slug}/users/{subject}/identities"
    listed = reader.get(path, IDENTITIES)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert (item["provider"], item["issuer"], item["email"]) == (
        "acme",
        scene.upstream.issuer,
        "api@example.org",
    )
    assert reader.delete(f"{path}/{item['id']}", IDENTITY).status_code == 403
    writer = api(tenant_key(scene.tenant))
    # Created through the upstream: no password, no passkey, this is the only way in.
    last = writer.delete(f"{path}/{item['id']}", IDENTITY)
    assert last.status_code == 409
    assert last.headers["Content-Type"].startswith("application/problem+json")
    with services.uow() as uow:
        row = uow.users.by_subject(scene.tenant.id, subject)
        row.password_hash = services.passwords.hash("a password now")
        uow.commit()
    assert writer.delete(f"{path}/{item['id']}", IDENTITY).status_code == 204
    assert writer.get(path, IDENTITIES).json() == {"items": []}
    assert writer.delete(f"{path}/{item['id']}", IDENTITY).status_code == 404
    events = page_events(
        services.uow(),
        scene.tenant.id,
        False,
        AuditFilter(action="user.identity_unlinked"),
        None,
        10,
    ).items
    # Newest first: the second removal (gone), the removal, the refused last way in, and the
    # reader's attempt without users:write.
    assert [(e.target_id, e.outcome) for e in events] == [
        (subject, "denied"),
        (subject, "success"),
        (subject, "failed"),
        (subject, "denied"),
    ]


def test_another_tenants_identities_are_not_reachable(make, api, tenant_key, upstream_idp):
    scene = federated_scene(make, upstream_idp)
    scene.upstream.person("mine@example.org")
    with requests.Session() as http:
        subject = scene.signed_in_through(http, "mine@example.org")["sub"]
    other = make.tenant()
    client = api(tenant_key(other))
    missing = client.get(f"/tenants/{other.slug}/users/{subject}/identities", IDENTITIES)
    assert missing.status_code == 404
    mine = api(tenant_key(scene.tenant))
    huge = f"/tenants/{scene.tenant.slug}/users/{subject}/identities/{2**40}"
    assert mine.delete(huge, IDENTITY).status_code == 404  # beyond 32 bits: no row, no 500
