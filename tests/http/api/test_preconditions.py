"""Optimistic concurrency (RFC 9110 §13.1.1, RFC 6585 §3): strong ETags on every single resource,
If-Match required on PATCH and honoured on DELETE, so two admins never silently overwrite
each other."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from idp.services.accounts.roles import create_role
from idp.services.management.api_keys import OPERATOR, create_api_key
from idp.services.management.team import add_member
from idp.services.tenancy.providers import create_provider
from tests.support.factories import Factory

STALE = '"0123456789abcdef0123456789abcdef"'


@dataclass
class Objects:
    slug: str
    client_id: str
    user_id: str
    key_id: str
    member_id: str
    role: str = "staff"
    provider: str = "github"

    def fill(self, template: str) -> str:
        return template.format(**vars(self))


def _build(make: Factory) -> Objects:
    """A tenant with one object of every kind that has a single-resource URL."""
    tenant = make.tenant()
    uow = make.services.uow()
    create_role(uow, tenant, "staff")
    member = add_member(uow, tenant, "owner@example.com", "owner", "test")
    add_member(uow, tenant, "second@example.com", "owner", "test")
    create_provider(uow, make.services.kek, tenant, {"kind": "github", "client_id": "gh"})
    return Objects(
        tenant.slug,
        make.client(tenant).client.client_id,
        make.user(tenant).subject,
        create_api_key(uow, OPERATOR, tenant, "resident", None).key.key_id,
        member.member_id,
    )


@pytest.fixture
def objects(make) -> Objects:
    """Objects of this test alone, for tests that delete them."""
    return _build(make)


@pytest.fixture(scope="module")
def shared(server) -> Objects:
    """Objects shared by the tests that only read or change them: each reads its own ETag."""
    return _build(Factory(server.services, server.url))


@pytest.fixture
def admin(api, platform_key):
    return api(platform_key)


SINGLE = [
    "/tenants/{slug}",
    "/tenants/{slug}/settings",
    "/tenants/{slug}/api-keys/{key_id}",
    "/tenants/{slug}/clients/{client_id}",
    "/tenants/{slug}/users/{user_id}",
    "/tenants/{slug}/roles/{role}",
    "/tenants/{slug}/team/{member_id}",
    "/tenants/{slug}/providers/{provider}",
]
# Two different changes per resource: the second is sent with the ETag the first made stale.
CHANGES = {
    "/tenants/{slug}": ({"name": "First"}, {"name": "Second"}),
    "/tenants/{slug}/settings": (
        {"branding": {"display_name": "Branded"}},
        {"policies": {"mfa": "required"}},
    ),
    "/tenants/{slug}/clients/{client_id}": ({"name": "First"}, {"scopes": ["other"]}),
    "/tenants/{slug}/users/{user_id}": ({"name": "First"}, {"active": False}),
    "/tenants/{slug}/roles/{role}": ({"description": "First"}, {"description": "Second"}),
    "/tenants/{slug}/team/{member_id}": ({"role": "admin"}, {"role": "viewer"}),
    "/tenants/{slug}/providers/{provider}": ({"display_name": "First"}, {"enabled": False}),
}
DELETABLE = [template for template in SINGLE if not template.endswith("/settings")]


@pytest.mark.parametrize("template", SINGLE)
def test_a_single_resource_carries_a_strong_etag(admin, shared, template):
    first = admin.get(shared.fill(template), template)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"'), "a strong tag: quoted, no W/"
    assert admin.get(shared.fill(template), template).headers["ETag"] == etag


@pytest.mark.parametrize("template", list(CHANGES))
def test_a_stale_etag_is_412_and_overwrites_nothing(admin, shared, template):
    path = shared.fill(template)
    first_change, second_change = CHANGES[template]
    read = admin.get(path, template)

    changed = admin.patch(
        path, template, json=first_change, headers={"If-Match": read.headers["ETag"]}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != read.headers["ETag"]
    now = admin.get(path, template)
    assert now.headers["ETag"] == changed.headers["ETag"]

    stale = admin.patch(
        path, template, json=second_change, headers={"If-Match": read.headers["ETag"]}
    )
    assert stale.status_code == 412
    after = admin.get(path, template)
    assert after.json() == now.json()
    assert after.headers["ETag"] == now.headers["ETag"]


@pytest.mark.parametrize("template", list(CHANGES))
def test_patch_without_if_match_is_428_and_if_match_star_overwrites(admin, shared, template):
    path = shared.fill(template)
    before = admin.get(path, template).json()
    missing = admin.patch(path, template, json=CHANGES[template][0])
    assert missing.status_code == 428
    assert "If-Match" in missing.json()["detail"]
    assert admin.get(path, template).json() == before
    star = admin.patch(path, template, json=CHANGES[template][0], headers={"If-Match": "*"})
    assert star.status_code == 200


@pytest.mark.parametrize("template", DELETABLE)
def test_delete_honours_if_match(admin, objects, template):
    path = objects.fill(template)
    read = admin.get(path, template)
    refused = admin.delete(path, template, headers={"If-Match": STALE})
    assert refused.status_code == 412
    assert admin.get(path, template).json() == read.json()
    done = admin.delete(path, template, headers={"If-Match": read.headers["ETag"]})
    assert done.status_code == 204


def test_delete_without_if_match_is_allowed(admin, objects):
    template = "/tenants/{slug}/clients/{client_id}"
    assert admin.delete(objects.fill(template), template).status_code == 204
    assert admin.get(objects.fill(template), template).status_code == 404


def test_if_match_star_on_a_missing_resource_is_404(admin, shared):
    template = "/tenants/{slug}/clients/{client_id}"
    path = template.format(slug=shared.slug, client_id="no-such-client")
    gone = admin.patch(path, template, json={"name": "x"}, headers={"If-Match": "*"})
    assert gone.status_code == 404


def test_a_weak_etag_never_matches(admin, shared):
    """If-Match uses the strong comparison (RFC 9110 §13.1.1)."""
    template = "/tenants/{slug}/clients/{client_id}"
    path = shared.fill(template)
    etag = admin.get(path, template).headers["ETag"]
    weak = admin.patch(path, template, json={"name": "x"}, headers={"If-Match": f"W/{etag}"})
    assert weak.status_code == 412
    listed = admin.patch(path, template, json={"name": "x"}, headers={"If-Match": f'"x", {etag}'})
    assert listed.status_code == 200


def test_two_admins_editing_the_same_client(api, tenant_key, make):
    tenant = make.tenant()
    client_id = make.client(tenant, redirect_uris=["https://app.example/cb"]).client.client_id
    template = "/tenants/{slug}/clients/{client_id}"
    path = template.format(slug=tenant.slug, client_id=client_id)
    alice, bob = api(tenant_key(tenant)), api(tenant_key(tenant))
    seen_by_alice = alice.get(path, template)
    seen_by_bob = bob.get(path, template)

    uris = [*seen_by_alice.json()["redirect_uris"], "https://app.example/alice"]
    saved = alice.patch(
        path,
        template,
        json={"redirect_uris": uris},
        headers={"If-Match": seen_by_alice.headers["ETag"]},
    )
    assert saved.status_code == 200

    bob_uris = [*seen_by_bob.json()["redirect_uris"], "https://app.example/bob"]
    lost = bob.patch(
        path,
        template,
        json={"redirect_uris": bob_uris},
        headers={"If-Match": seen_by_bob.headers["ETag"]},
    )
    assert lost.status_code == 412
    assert lost.headers["Content-Type"].startswith("application/problem+json")
    assert bob.get(path, template).json()["redirect_uris"] == uris


def test_concurrent_writers_with_the_same_etag_one_wins(api, tenant_key, make):
    """The check and the write are one step on every worker: of writers that all read the same
    version, exactly one succeeds, however their requests interleave."""
    tenant = make.tenant()
    client_id = make.client(tenant).client.client_id
    template = "/tenants/{slug}/clients/{client_id}"
    path = template.format(slug=tenant.slug, client_id=client_id)
    admins = [api(tenant_key(tenant)) for _ in range(6)]
    etag = admins[0].get(path, template).headers["ETag"]
    start = threading.Barrier(len(admins))
    statuses: list[int] = []

    def write(index: int) -> None:
        start.wait()
        response = admins[index].patch(
            path, template, json={"name": f"writer {index}"}, headers={"If-Match": etag}
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(admins))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * (len(admins) - 1)


def test_rotating_a_secret_honours_if_match_and_keeps_the_etag(admin, shared):
    template = "/tenants/{slug}/clients/{client_id}"
    path = shared.fill(template)
    etag = admin.get(path, template).headers["ETag"]
    rotate = "/tenants/{slug}/clients/{client_id}/secret"
    refused = admin.post(shared.fill(rotate), rotate, headers={"If-Match": STALE})
    assert refused.status_code == 412
    rotated = admin.post(shared.fill(rotate), rotate, headers={"If-Match": etag})
    assert rotated.status_code == 200 and rotated.json()["client_secret"]
    # The secret is not part of the representation: what a GET shows has not changed.
    assert rotated.headers["ETag"] == etag == admin.get(path, template).headers["ETag"]


def test_the_reference_page_explains_the_headers(server, http):
    page = http.get(f"{server.url}/api/v1/docs")
    assert page.status_code == 200
    for header in ("If-Match", "Idempotency-Key", "ETag", "Retry-After"):
        assert header in page.text
