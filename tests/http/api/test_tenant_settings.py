"""Tenant settings (issue 4 §3, seed 002): branding and policies, typed and validated, and the
access token lifetime set here is the one the token endpoint uses."""

from __future__ import annotations

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

TEMPLATE = "/tenants/{slug}/settings"


@pytest.fixture
def admin_of(api, tenant_key, make):
    """A fresh tenant and an API client holding every scope of it."""

    def build():
        tenant = make.tenant(name="Acme Corp")
        return tenant, api(tenant_key(tenant))

    return build


def _patch(admin, slug: str, body: dict, etag: str = "*") -> requests.Response:
    return admin.patch(f"/tenants/{slug}/settings", TEMPLATE, json=body, headers={"If-Match": etag})


def test_defaults_are_shown_filled_in(admin_of):
    tenant, admin = admin_of()
    shown = admin.get(f"/tenants/{tenant.slug}/settings", TEMPLATE)
    assert shown.status_code == 200
    assert shown.json() == {
        "branding": {
            "display_name": "Acme Corp",
            "logo_url": None,
            "primary_color": None,
            "custom_css": None,
        },
        "policies": {
            "self_registration": False,
            "password_min_length": 8,
            "session_lifetime": 86400,
            "access_token_lifetime": 3600,  # the installation default (config.toml)
            "refresh_token_idle_lifetime": 14 * 86400,
            "refresh_token_absolute_lifetime": 30 * 86400,
            "mfa": "off",
            "sign_in_methods": ["password"],
            "dynamic_registration": {"enabled": False, "initial_access_token_required": True},
            "unverified_sign_in": True,
            "account_deletion": False,
            "profile_attributes": [],
            "passkeys_rp_id": None,
            "federation_profile_sync": "fill_empty",
        },
    }


def test_patch_changes_only_the_fields_sent_and_null_resets(admin_of):
    tenant, admin = admin_of()
    changed = _patch(
        admin,
        tenant.slug,
        {
            "branding": {
                "display_name": "Acme",
                "logo_url": "https://cdn.acme.example/logo.svg",
                "primary_color": "#A1B2C3",
            },
            "policies": {
                "self_registration": True,
                "password_min_length": 12,
                "mfa": "required",
                "sign_in_methods": ["password", "magic_link", "github"],
                "session_lifetime": 3600,
            },
        },
    )
    assert changed.status_code == 200
    assert changed.json()["branding"] == {
        "display_name": "Acme",
        "logo_url": "https://cdn.acme.example/logo.svg",
        "primary_color": "#a1b2c3",
        "custom_css": None,
    }
    policies = changed.json()["policies"]
    assert (policies["self_registration"], policies["password_min_length"], policies["mfa"]) == (
        True,
        12,
        "required",
    )
    assert policies["sign_in_methods"] == ["password", "magic_link", "github"]
    assert policies["refresh_token_idle_lifetime"] == 14 * 86400  # untouched
    assert admin.get(f"/tenants/{tenant.slug}/settings", TEMPLATE).json() == changed.json()

    reset = _patch(
        admin,
        tenant.slug,
        {"branding": {"display_name": None, "logo_url": None}, "policies": {"mfa": None}},
        changed.headers["ETag"],
    )
    assert reset.status_code == 200
    assert reset.json()["branding"]["display_name"] == "Acme Corp"
    assert reset.json()["branding"]["logo_url"] is None
    assert reset.json()["branding"]["primary_color"] == "#a1b2c3"
    assert reset.json()["policies"]["mfa"] == "off"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"branding": {"logo_url": "http://acme.example/logo.png"}}, "branding.logo_url"),
        ({"branding": {"logo_url": "javascript:alert(1)"}}, "branding.logo_url"),
        ({"branding": {"logo_url": "https://user:pw@acme.example/l.png"}}, "branding.logo_url"),
        ({"branding": {"primary_color": "red"}}, "branding.primary_color"),
        ({"branding": {"primary_color": "#12345"}}, "branding.primary_color"),
        ({"branding": {"display_name": "   "}}, "branding.display_name"),
        ({"branding": {"tagline": "x"}}, "branding.tagline"),
        (
            {"branding": {"custom_css": "@import 'https://evil.example/x.css';"}},
            "branding.custom_css",
        ),
        (
            {"branding": {"custom_css": "a { background: url(https://t.example/p) }"}},
            "branding.custom_css",
        ),
        ({"branding": {"custom_css": "a { b\\61ckground: red }"}}, "branding.custom_css"),
        ({"branding": {"custom_css": "</style><script>alert(1)</script>"}}, "branding.custom_css"),
        ({"branding": {"custom_css": "x { width: expression(alert(1)) }"}}, "branding.custom_css"),
        ({"branding": {"custom_css": "a {}" * 6000}}, "branding.custom_css"),
        ({"policies": {"password_min_length": 7}}, "policies.password_min_length"),
        ({"policies": {"mfa": "sometimes"}}, "policies.mfa"),
        ({"policies": {"federation_profile_sync": "always"}}, "policies.federation_profile_sync"),
        ({"policies": {"sign_in_methods": []}}, "policies.sign_in_methods"),
        ({"policies": {"sign_in_methods": ["password", "fax"]}}, "policies.sign_in_methods"),
        ({"policies": {"sign_in_methods": ["github", "github"]}}, "policies.sign_in_methods"),
        ({"policies": {"sign_in_methods": "password"}}, "policies.sign_in_methods"),
        ({"policies": {"self_registration": "yes"}}, "policies.self_registration"),
        ({"policies": {"access_token_lifetime": 0}}, "policies.access_token_lifetime"),
        ({"policies": {"access_token_lifetime": 86401}}, "policies.access_token_lifetime"),
        ({"policies": {"session_lifetime": True}}, "policies.session_lifetime"),
        (
            {"policies": {"refresh_token_idle_lifetime": 40 * 86400}},
            "policies.refresh_token_idle_lifetime",
        ),
        ({"policies": {"unverified_sign_in": "no"}}, "policies.unverified_sign_in"),
        ({"policies": {"account_deletion": 1}}, "policies.account_deletion"),
        ({"policies": {"passkeys_rp_id": "127.0.0.1"}}, "policies.passkeys_rp_id"),
        ({"policies": {"passkeys_rp_id": "Example.com"}}, "policies.passkeys_rp_id"),
        ({"policies": {"passkeys_rp_id": "https://example.com"}}, "policies.passkeys_rp_id"),
        ({"policies": {"passkeys_rp_id": 7}}, "policies.passkeys_rp_id"),
        ({"policies": {"profile_attributes": {"name": "x"}}}, "policies.profile_attributes"),
        ({"policies": {"profile_attributes": ["company"]}}, "policies.profile_attributes.0"),
        (
            {"policies": {"profile_attributes": [{"name": "email"}]}},
            "policies.profile_attributes.0.name",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "Company"}]}},
            "policies.profile_attributes.0.name",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "company\n"}]}},
            "policies.profile_attributes.0.name",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a"}, {"name": "a"}]}},
            "policies.profile_attributes.1.name",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "type": "date"}]}},
            "policies.profile_attributes.0.type",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "label": None}]}},
            "policies.profile_attributes.0.label",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "label": "x" * 101}]}},
            "policies.profile_attributes.0.label",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "required": "yes"}]}},
            "policies.profile_attributes.0.required",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "scope": "openid"}]}},
            "policies.profile_attributes.0.scope",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "scope": "two words"}]}},
            "policies.profile_attributes.0.scope",
        ),
        (
            {"policies": {"profile_attributes": [{"name": "a", "colour": "red"}]}},
            "policies.profile_attributes.0",
        ),
        (
            {"policies": {"profile_attributes": [{"name": f"a{i}"} for i in range(21)]}},
            "policies.profile_attributes",
        ),
        ({"policies": "strict"}, "policies"),
        ({"slug": "other"}, "slug"),
    ],
)
def test_invalid_settings_are_422_naming_the_field_and_change_nothing(admin_of, body, field):
    tenant, admin = admin_of()
    before = admin.get(f"/tenants/{tenant.slug}/settings", TEMPLATE).json()
    refused = _patch(admin, tenant.slug, body)
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == [field]
    assert admin.get(f"/tenants/{tenant.slug}/settings", TEMPLATE).json() == before


def test_every_bad_field_is_reported_at_once(admin_of):
    tenant, admin = admin_of()
    refused = _patch(
        admin,
        tenant.slug,
        {
            "branding": {"primary_color": "blue"},
            "policies": {"mfa": "maybe", "session_lifetime": 1},
        },
    )
    assert refused.status_code == 422
    assert sorted(error["field"] for error in refused.json()["errors"]) == [
        "branding.primary_color",
        "policies.mfa",
        "policies.session_lifetime",
    ]


def test_the_token_endpoint_issues_the_lifetime_set_here(server, admin_of, make):
    tenant, admin = admin_of()
    client = make.client(tenant)
    assert (
        _patch(admin, tenant.slug, {"policies": {"access_token_lifetime": 120}}).status_code == 200
    )
    # The tenant and the PATCH on /tenants/{slug} share one value: both show the new lifetime.
    assert (
        admin.get(f"/tenants/{tenant.slug}", "/tenants/{slug}").json()["access_token_lifetime"]
        == 120
    )
    token = requests.post(
        f"{server.url}/t/{tenant.slug}/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client.client_id, client.secret),
    )
    assert token.status_code == 200
    assert token.json()["expires_in"] == 120
    issuer = server.issuer(tenant.slug)
    keys = KeySet.import_key_set(requests.get(f"{issuer}/jwks.json").json())
    claims = jwt.decode(token.json()["access_token"], keys, algorithms=["RS256"]).claims
    assert claims["exp"] - claims["iat"] == 120


def test_the_password_policy_applies_to_new_users(admin_of):
    tenant, admin = admin_of()
    _patch(admin, tenant.slug, {"policies": {"password_min_length": 12}})
    users = f"/tenants/{tenant.slug}/users"
    short = admin.post(
        users, "/tenants/{slug}/users", json={"email": "a@example.com", "password": "elevenchars"}
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "password"
    long_enough = admin.post(
        users, "/tenants/{slug}/users", json={"email": "a@example.com", "password": "twelve chars"}
    )
    assert long_enough.status_code == 201
    for guessable in ("password1234", "b@example.com", "Qwertyuiop12"):
        refused = admin.post(
            users, "/tenants/{slug}/users", json={"email": "b@example.com", "password": guessable}
        )
        assert refused.status_code == 422, guessable
        assert refused.json()["errors"][0]["field"] == "password"


def test_custom_css_at_the_limit_is_stored_as_sent_and_fits_the_document(admin_of):
    tenant, admin = admin_of()
    css = "a{}" * 6666  # 19,998 characters, sent with a blank on each side: 20,000 in all
    changed = _patch(admin, tenant.slug, {"branding": {"custom_css": f" {css} "}})
    assert changed.status_code == 200
    assert changed.json()["branding"]["custom_css"] == css
    too_long = _patch(admin, tenant.slug, {"branding": {"custom_css": f"  {css}  "}})
    assert too_long.status_code == 422


COMPANY = {
    "name": "company",
    "label": "Company",
    "type": "string",
    "required": True,
    "at_registration": True,
    "scope": "organisation",
}


def test_the_account_policies_and_profile_attributes_are_stored_and_reset(admin_of):
    tenant, admin = admin_of()
    changed = _patch(
        admin,
        tenant.slug,
        {
            "policies": {
                "unverified_sign_in": False,
                "account_deletion": True,
                "profile_attributes": [COMPANY, {"name": "seats", "type": "integer"}],
            }
        },
    )
    assert changed.status_code == 200, changed.text
    policies = changed.json()["policies"]
    assert (policies["unverified_sign_in"], policies["account_deletion"]) == (False, True)
    assert policies["profile_attributes"] == [
        COMPANY,
        {
            "name": "seats",
            "label": "seats",  # the name when no label is given
            "type": "integer",
            "required": False,
            "at_registration": True,
            "scope": "profile",
        },
    ]
    shown = admin.get(f"/tenants/{tenant.slug}/settings", TEMPLATE).json()["policies"]
    assert shown == policies
    reset = _patch(
        admin,
        tenant.slug,
        {
            "policies": {
                "unverified_sign_in": None,
                "account_deletion": None,
                "profile_attributes": None,
            }
        },
    )
    policies = reset.json()["policies"]
    assert (policies["unverified_sign_in"], policies["account_deletion"]) == (True, False)
    assert policies["profile_attributes"] == []
