"""A NUL or an out-of-range row id in a URL is refused in the surface's own format, never a 500.

PostgreSQL refuses U+0000 in text and integers beyond its `integer` range: before
idp/http/url_values.py each of these reached a query and answered 500 on the production set-up
(a fuzz run against PostgreSQL + Redis found them).
"""

from __future__ import annotations

import pytest

NUL = "a\x00b"

# Every management API path with an identifier of ours in it, with its OpenAPI template.
ITEM_PATHS = [
    ("/tenants/{slug}", "/tenants/{slug}"),
    ("/tenants/{slug}/users/{nul}", "/tenants/{slug}/users/{user_id}"),
    ("/tenants/{slug}/clients/{nul}", "/tenants/{slug}/clients/{client_id}"),
    ("/tenants/{slug}/roles/{nul}", "/tenants/{slug}/roles/{role}"),
    ("/tenants/{slug}/providers/{nul}", "/tenants/{slug}/providers/{provider}"),
    ("/tenants/{slug}/team/{nul}", "/tenants/{slug}/team/{member_id}"),
    ("/tenants/{slug}/api-keys/{nul}", "/tenants/{slug}/api-keys/{key_id}"),
    ("/platform/api-keys/{nul}", "/platform/api-keys/{key_id}"),
]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(("path", "template"), ITEM_PATHS)
def test_an_id_holding_nul_names_nothing(api, platform_key, make, method, path, template):
    tenant = make.tenant()
    slug = NUL if path == "/tenants/{slug}" else tenant.slug
    response = api(platform_key).call(method, path.format(slug=slug, nul=NUL), template)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("kind", "template"),
    [
        ("factors/passkey", "/tenants/{slug}/users/{user_id}/factors/passkey/{passkey_id}"),
        ("identities", "/tenants/{slug}/users/{user_id}/identities/{identity_id}"),
    ],
)
@pytest.mark.parametrize("row_id", [2**31, 10**30])
def test_a_row_id_beyond_the_database_range_names_nothing(
    api, platform_key, make, kind, template, row_id
):
    tenant = make.tenant()
    person = make.user(tenant)
    path = f"/tenants/{tenant.slug}/users/{person.subject}/{kind}/{row_id}"
    response = api(platform_key).delete(path, template)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_filter_holding_nul_is_a_bad_request(api, platform_key, make):
    tenant = make.tenant()
    path = f"/tenants/{tenant.slug}/users"
    response = api(platform_key).get(path, "/tenants/{slug}/users", params={"q": NUL})
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/pictures/{nul}", "/federation/{nul}/start"])
def test_a_page_path_holding_nul_is_a_page_not_found(http, make, path):
    issuer = make.issuer(make.tenant())
    response = http.get(issuer + path.format(nul=NUL))
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_a_page_query_holding_nul_is_a_friendly_bad_request(http, make):
    tenant = make.tenant()
    client_id = make.client(tenant).client.client_id
    logout = f"{make.issuer(tenant)}/logout"
    response = http.get(logout, params={"client_id": NUL})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    # An honest client's logout still works.
    assert http.get(logout, params={"client_id": client_id}).status_code == 200


def test_a_protocol_query_holding_nul_is_an_rfc_6749_error(http, make, rfc_error):
    response = http.get(f"{make.issuer(make.tenant())}/userinfo", params={"access_token": NUL})
    assert rfc_error(response) == (400, "invalid_request")
