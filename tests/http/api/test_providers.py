"""Upstream providers through the management API (issue 11 §1): the fields of each kind, the
callback URL to register upstream, refusals field by field, and the configuration the
federation flow reads (`upstream_config`, `enabled_providers`). Every answer is checked
against the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from idp.services.errors import NotFound
from idp.services.tenancy.providers import enabled_providers, upstream_config

PROVIDERS = "/tenants/{slug}/providers"
PROVIDER = "/tenants/{slug}/providers/{provider}"


@pytest.fixture
def admin(api, tenant_key, make):
    tenant = make.tenant()
    return api(tenant_key(tenant)), tenant


def create(admin_and_tenant, body: dict[str, Any]):
    admin, tenant = admin_and_tenant
    return admin.post(PROVIDERS.format(slug=tenant.slug), PROVIDERS, json=body)


def update(admin_and_tenant, provider: str, body: dict[str, Any]):
    admin, tenant = admin_and_tenant
    return admin.patch(
        PROVIDER.format(slug=tenant.slug, provider=provider),
        PROVIDER,
        json=body,
        headers={"If-Match": "*"},
    )


def test_google_defaults_and_callback_url(server, admin) -> None:
    answer = create(admin, {"kind": "google", "client_id": "g-web", "client_secret": "s3cret"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["issuer"] == "https://accounts.google.com"
    assert body["callback_url"] == f"{server.issuer(admin[1].slug)}/federation/google/callback"
    assert body["allowed_audiences"] == [] and body["api_base_url"] is None
    assert body["client_secret_set"] is True and "s3cret" not in answer.text


def test_google_with_an_overridden_issuer_and_app_audiences(admin) -> None:
    answer = create(
        admin,
        {
            "kind": "google",
            "client_id": "g-web",
            "issuer": "http://127.0.0.1:9999/t/upstream",
            "allowed_audiences": ["android-app", "ios-app", "android-app"],
            "icon_uri": "https://cdn.example.com/g.svg",
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["issuer"] == "http://127.0.0.1:9999/t/upstream"
    assert body["allowed_audiences"] == ["android-app", "ios-app"]
    assert body["icon_uri"] == "https://cdn.example.com/g.svg"
    reset = update(admin, "google", {"issuer": None, "allowed_audiences": []})
    assert reset.json()["issuer"] == "https://accounts.google.com"
    assert reset.json()["allowed_audiences"] == []


def test_github_endpoints_default_to_github_com_and_can_point_at_an_enterprise_server(
    admin,
) -> None:
    body = create(admin, {"kind": "github", "client_id": "gh"}).json()
    assert (body["authorization_endpoint"], body["token_endpoint"], body["api_base_url"]) == (
        "https://github.com/login/oauth/authorize",
        "https://github.com/login/oauth/access_token",
        "https://api.github.com",
    )
    assert body["issuer"] is None
    ghes = {
        "authorization_endpoint": "https://ghe.example/login/oauth/authorize",
        "token_endpoint": "https://ghe.example/login/oauth/access_token",
        "api_base_url": "https://ghe.example/api/v3",
    }
    changed = update(admin, "github", ghes)
    assert changed.status_code == 200
    assert {name: changed.json()[name] for name in ghes} == ghes
    back = update(admin, "github", {"api_base_url": None}).json()
    assert back["api_base_url"] == "https://api.github.com"


def test_an_oidc_provider_needs_its_issuer(admin) -> None:
    missing = create(admin, {"kind": "oidc", "client_id": "c"})
    assert missing.status_code == 422
    made = create(
        admin, {"kind": "oidc", "slug": "corp", "client_id": "c", "issuer": "https://sso.corp"}
    )
    assert made.status_code == 201
    assert made.json()["callback_url"].endswith("/federation/corp/callback")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"kind": "oidc", "issuer": "http://sso.example"}, id="http-issuer"),
        pytest.param({"kind": "oidc", "issuer": "https://sso.example?x=1"}, id="issuer-query"),
        pytest.param({"kind": "oidc", "issuer": ""}, id="empty-issuer"),
        pytest.param({"kind": "oidc", "issuer": "javascript:alert(1)"}, id="script-issuer"),
        pytest.param({"kind": "github", "issuer": "https://sso.example"}, id="github-issuer"),
        pytest.param(
            {"kind": "google", "api_base_url": "https://ghe.example/api/v3"}, id="google-api"
        ),
        pytest.param({"kind": "github", "allowed_audiences": ["app"]}, id="github-audiences"),
        pytest.param(
            {"kind": "github", "token_endpoint": "ftp://ghe.example/token"}, id="ftp-endpoint"
        ),
        pytest.param({"kind": "google", "icon_uri": "http://cdn.example/i.png"}, id="http-icon"),
        pytest.param({"kind": "google", "icon_uri": "data:image/png;base64,AA"}, id="data-icon"),
        pytest.param({"kind": "google", "allowed_audiences": [""]}, id="empty-audience"),
        pytest.param({"kind": "google", "allowed_audiences": ["a"] * 21}, id="too-many"),
        pytest.param({"kind": "google", "allowed_audiences": [1]}, id="number-audience"),
        pytest.param({"kind": "google", "allowed_audiences": "app"}, id="audiences-string"),
        pytest.param({"kind": "google", "issuer": 7}, id="issuer-number"),
        pytest.param({"kind": "google", "unknown": 7}, id="unknown-field"),
    ],
)
def test_bad_fields_are_refused_with_a_problem(admin, body: dict[str, Any]) -> None:
    answer = create(admin, {"client_id": "c", **body})
    assert answer.status_code == 422, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_a_field_of_another_kind_is_refused_on_update_too(admin) -> None:
    create(admin, {"kind": "github", "client_id": "gh"})
    answer = update(admin, "github", {"issuer": "https://accounts.google.com"})
    assert answer.status_code == 422


def test_upstream_config_unseals_the_secret_of_enabled_providers_only(services, admin) -> None:
    _, tenant = admin
    create(admin, {"kind": "google", "client_id": "g", "client_secret": "g-secret"})
    create(admin, {"kind": "github", "client_id": "gh", "enabled": False})
    create(admin, {"kind": "oidc", "slug": "corp", "client_id": "c", "issuer": "https://sso.corp"})
    view, config = upstream_config(services.uow(), services.kek, tenant, "google")
    assert (view.slug, config.kind, config.client_secret) == ("google", "google", "g-secret")
    assert config.issuer == "https://accounts.google.com"
    assert config.scopes == ("openid", "email", "profile")
    _, corp = upstream_config(services.uow(), services.kek, tenant, "corp")
    assert (corp.client_secret, corp.issuer) == (None, "https://sso.corp")
    for hidden in ("github", "nope"):
        with pytest.raises(NotFound):
            upstream_config(services.uow(), services.kek, tenant, hidden)
    enabled = enabled_providers(services.provider_lookup, tenant)
    assert [p.slug for p in enabled] == ["google", "corp"]


def test_github_upstream_config_carries_the_endpoints_in_force(services, admin) -> None:
    _, tenant = admin
    create(admin, {"kind": "github", "client_id": "gh", "client_secret": "x"})
    _, config = upstream_config(services.uow(), services.kek, tenant, "github")
    assert config.api_base_url == "https://api.github.com"
    assert config.token_endpoint == "https://github.com/login/oauth/access_token"


def test_providers_of_one_tenant_are_not_another_tenants(services, admin, make) -> None:
    create(admin, {"kind": "google", "client_id": "g"})
    other = make.tenant()
    with pytest.raises(NotFound):
        upstream_config(services.uow(), services.kek, other, "google")
    assert enabled_providers(services.provider_lookup, other) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_id", "a\u0000b"),
        ("display_name", "a\u0000b"),
        ("client_secret", "a\u0000b"),
        ("allowed_audiences", ["a\u0000b"]),
        ("scopes", ["a\u0000b"]),
        ("issuer", "https://a\u0000b"),
    ],
)
def test_a_nul_character_is_refused_not_a_server_error(admin, field: str, value: Any) -> None:
    """PostgreSQL cannot store U+0000 in text: it must be refused before it gets there."""
    answer = create(admin, {"kind": "google", "client_id": "g", field: value})
    assert answer.status_code == 422, answer.text
