"""Profile attribute values per user through the management API (issue 9 §2): declared in the
tenant's settings, checked on create and PATCH (422 naming `attributes.<name>`), shown on GET;
a PATCH changes only the values sent and null removes one."""

from __future__ import annotations

import pytest

SETTINGS = "/tenants/{slug}/settings"
USERS = "/tenants/{slug}/users"
USER = "/tenants/{slug}/users/{user_id}"
DECLARED = [
    {"name": "company", "label": "Company", "required": True},
    {"name": "seats", "type": "integer", "scope": "billing"},
    {"name": "newsletter", "type": "boolean"},
]


@pytest.fixture
def admin(api, tenant_key, make):
    """A tenant declaring DECLARED, and an API client holding every scope of it."""
    tenant = make.tenant()
    client = api(tenant_key(tenant))
    declared = client.patch(
        f"/tenants/{tenant.slug}/settings",
        SETTINGS,
        json={"policies": {"profile_attributes": DECLARED}},
        headers={"If-Match": "*"},
    )
    assert declared.status_code == 200, declared.text
    client.slug = tenant.slug
    return client


def _create(admin, **body):
    body.setdefault("email", "ada@example.com")
    return admin.post(f"/tenants/{admin.slug}/users", USERS, json=body)


def test_values_are_stored_checked_and_shown(admin):
    created = _create(admin, attributes={"company": "Acme", "seats": 12, "newsletter": True})
    assert created.status_code == 201, created.text
    assert created.json()["attributes"] == {"company": "Acme", "seats": 12, "newsletter": True}
    user_id = created.json()["id"]
    url = f"/tenants/{admin.slug}/users/{user_id}"
    changed = admin.patch(
        url, USER, json={"attributes": {"seats": 15, "newsletter": None}}, headers={"If-Match": "*"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["attributes"] == {"company": "Acme", "seats": 15}
    assert admin.get(url, USER).json()["attributes"] == {"company": "Acme", "seats": 15}


def test_an_admin_may_leave_a_required_attribute_for_the_person(admin):
    created = _create(admin)
    assert created.status_code == 201, created.text
    assert created.json()["attributes"] == {}


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"company": 7}, "attributes.company"),
        ({"company": "x" * 501}, "attributes.company"),
        ({"company": "line\nbreak"}, "attributes.company"),
        ({"seats": "many"}, "attributes.seats"),
        ({"seats": 1.5}, "attributes.seats"),
        ({"seats": True}, "attributes.seats"),
        ({"newsletter": 1}, "attributes.newsletter"),
        ({"shoe_size": 42}, "attributes.shoe_size"),
    ],
)
def test_bad_values_are_422_naming_the_attribute(admin, attributes, field):
    refused = _create(admin, attributes=attributes)
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in refused.json()["errors"]] == [field]
    created = _create(admin, email="grace@example.com")
    url = f"/tenants/{admin.slug}/users/{created.json()['id']}"
    patched = admin.patch(url, USER, json={"attributes": attributes}, headers={"If-Match": "*"})
    assert patched.status_code == 422
    assert [error["field"] for error in patched.json()["errors"]] == [field]
    assert admin.get(url, USER).json()["attributes"] == {}


def test_attributes_must_be_an_object(admin):
    refused = _create(admin, attributes=["company"])
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["attributes"]


def test_too_long_names_are_422_not_a_database_error(admin):
    created = _create(admin)
    url = f"/tenants/{admin.slug}/users/{created.json()['id']}"
    refused = admin.patch(url, USER, json={"given_name": "x" * 101}, headers={"If-Match": "*"})
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["given_name"]
    long_name = _create(admin, email="long@example.com", name="y" * 201)
    assert long_name.status_code == 422
