"""The client metadata of issue 3 through the management API: set on create, changed with PATCH
(If-Match), returned everywhere, refused field by field; every answer checked against the
OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

CLIENTS = "/tenants/{slug}/clients"
CLIENT = "/tenants/{slug}/clients/{client_id}"
WEB_APP = {
    "name": "Shop",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://shop.example.com/cb"],
    "scopes": ["openid"],
}
METADATA = {
    "application_type": "web",
    "backchannel_logout_uri": "https://shop.example.com/logout",
    "backchannel_logout_session_required": True,
    "allowed_cors_origins": ["https://shop.example.com", "http://127.0.0.1:3000"],
    "skip_consent": True,
    "first_party": True,
    "logo_uri": "https://cdn.example.com/shop.png",
    "always_issue_refresh_token": True,
}


@pytest.fixture
def admin(api, tenant_key, make):
    """An API client with every scope of a fresh tenant, and that tenant's slug."""
    tenant = make.tenant()
    return api(tenant_key(tenant)), tenant.slug


def create(admin_and_slug, body: dict[str, Any]):
    admin, slug = admin_and_slug
    return admin.post(CLIENTS.format(slug=slug), CLIENTS, json=body)


def test_new_fields_default_when_omitted(admin):
    created = create(admin, WEB_APP)
    assert created.status_code == 201, created.text
    assert {name: created.json()[name] for name in METADATA} == {
        "application_type": "web",
        "backchannel_logout_uri": None,
        "backchannel_logout_session_required": False,
        "allowed_cors_origins": [],
        "skip_consent": False,
        "first_party": False,
        "logo_uri": None,
        "always_issue_refresh_token": False,
    }


def test_every_field_is_set_on_create_and_returned_by_get_and_list(admin):
    api, slug = admin
    created = create(admin, {**WEB_APP, **METADATA})
    assert created.status_code == 201, created.text
    assert {name: created.json()[name] for name in METADATA} == METADATA
    client_id = created.json()["client_id"]
    shown = api.get(CLIENT.format(slug=slug, client_id=client_id), CLIENT).json()
    assert {name: shown[name] for name in METADATA} == METADATA
    listed = api.get(CLIENTS.format(slug=slug), CLIENTS).json()["items"]
    assert [c for c in listed if c["client_id"] == client_id] == [shown]


def test_patch_changes_each_field_with_if_match(admin):
    api, slug = admin
    created = create(admin, WEB_APP)
    url = CLIENT.format(slug=slug, client_id=created.json()["client_id"])
    etag = created.headers["ETag"]
    for name, value in METADATA.items():
        changed = api.patch(url, CLIENT, json={name: value}, headers={"If-Match": etag})
        assert changed.status_code == 200, changed.text
        assert changed.json()[name] == value
        etag = changed.headers["ETag"]
    assert {name: api.get(url, CLIENT).json()[name] for name in METADATA} == METADATA

    cleared = api.patch(
        url,
        CLIENT,
        json={"backchannel_logout_uri": None, "backchannel_logout_session_required": False},
        headers={"If-Match": etag},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["backchannel_logout_uri"] is None


def test_origins_are_de_duplicated(admin):
    origins = ["https://shop.example.com", "https://shop.example.com", "https://a.example.com"]
    created = create(admin, {**WEB_APP, "allowed_cors_origins": origins})
    assert created.json()["allowed_cors_origins"] == [
        "https://shop.example.com",
        "https://a.example.com",
    ]


def test_a_native_client_and_its_redirect_uris(admin):
    api, slug = admin
    native = {
        **WEB_APP,
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "redirect_uris": ["com.example.shop:/cb", "http://127.0.0.1/cb", "http://[::1]/cb"],
    }
    created = create(admin, native)
    assert created.status_code == 201, created.text
    assert created.json()["application_type"] == "native"
    # Back to web: the private-use scheme is no longer allowed, so the change is refused whole.
    url = CLIENT.format(slug=slug, client_id=created.json()["client_id"])
    refused = api.patch(
        url, CLIENT, json={"application_type": "web"}, headers={"If-Match": created.headers["ETag"]}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "redirect_uris"
    assert api.get(url, CLIENT).json()["application_type"] == "native"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"application_type": "desktop"}, "application_type"),
        ({"application_type": None}, "application_type"),
        ({"backchannel_logout_uri": "http://shop.example.com/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://shop.example.com/l#frag"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://[::1/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_session_required": True}, "backchannel_logout_session_required"),
        ({"backchannel_logout_session_required": "yes"}, "backchannel_logout_session_required"),
        ({"logo_uri": "javascript:alert(1)"}, "logo_uri"),
        ({"logo_uri": "data:image/png;base64,AAAA"}, "logo_uri"),
        ({"logo_uri": "http://cdn.example.com/logo.png"}, "logo_uri"),
        ({"logo_uri": "https://user:pw@cdn.example.com/logo.png"}, "logo_uri"),
        ({"allowed_cors_origins": "https://shop.example.com"}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://shop.example.com/"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://shop.example.com/app"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://*.example.com"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["*"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["null"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://Shop.example.com"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["HTTPS://shop.example.com"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["http://shop.example.com"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://shop.example.com:443"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://shop.example.com:99999"]}, "allowed_cors_origins"),
        ({"allowed_cors_origins": ["https://u@shop.example.com"]}, "allowed_cors_origins"),
        ({"skip_consent": "true"}, "skip_consent"),
        ({"first_party": "yes"}, "first_party"),
        ({"always_issue_refresh_token": 1}, "always_issue_refresh_token"),
        # OIDC Registration §2: a native client's redirect URIs are not web addresses.
        ({"application_type": "native"}, "redirect_uris"),
        ({"redirect_uris": ["com.example.shop:/cb"]}, "redirect_uris"),  # web: no custom scheme
    ],
)
def test_bad_values_are_field_problems_on_create_and_patch(admin, change, field):
    api, slug = admin
    refused = create(admin, {**WEB_APP, **change})
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in refused.json()["errors"]] == [field]

    created = create(admin, WEB_APP)
    url = CLIENT.format(slug=slug, client_id=created.json()["client_id"])
    patched = api.patch(url, CLIENT, json=change, headers={"If-Match": created.headers["ETag"]})
    assert patched.status_code == 422
    assert [error["field"] for error in patched.json()["errors"]] == [field]
    unchanged = {k: v for k, v in created.json().items() if k != "client_secret"}
    assert api.get(url, CLIENT).json() == unchanged


def test_the_openapi_document_describes_the_fields(api_spec):
    schemas = api_spec["components"]["schemas"]
    for schema in ("Client", "ClientCreate", "ClientUpdate"):
        assert set(METADATA) <= set(schemas[schema]["properties"]), schema
    assert schemas["ClientCreate"]["properties"]["application_type"]["enum"] == ["web", "native"]
