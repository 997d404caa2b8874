"""`idp clients create` with the client metadata of issue 3: application type, back-channel
logout, CORS origins, first-party consent, logo and refresh-token policy."""

from __future__ import annotations

import pytest

from tests.support.cli import Installation

DEFAULTS = {
    "application_type": "web",
    "backchannel_logout_uri": None,
    "backchannel_logout_session_required": False,
    "allowed_cors_origins": [],
    "skip_consent": False,
    "first_party": False,
    "logo_uri": None,
    "always_issue_refresh_token": False,
}


def create(install: Installation, tenant: str, *options: str) -> dict:
    return install.json("clients", "create", "--tenant", tenant, "--name", "Shop", *options)


def test_the_existing_form_still_works_and_shows_the_defaults(
    install: Installation, tenant: str
) -> None:
    client = create(
        install, tenant,
        "--grant-types", "authorization_code,refresh_token",
        "--redirect-uri", "https://shop.example.com/cb",
        "--post-logout-redirect-uri", "https://shop.example.com/bye",
        "--public", "--scopes", "openid email", "--resource", "https://api.example.com",
    )  # fmt: skip
    assert {name: client[name] for name in DEFAULTS} == DEFAULTS
    assert client["token_endpoint_auth_method"] == "none"


def test_every_new_field_is_set_and_shown_by_show_and_list(
    install: Installation, tenant: str
) -> None:
    client = create(
        install, tenant,
        "--grant-types", "authorization_code,refresh_token",
        "--redirect-uri", "https://shop.example.com/cb",
        "--application-type", "web",
        "--backchannel-logout-uri", "https://shop.example.com/logout?from=idp",
        "--backchannel-logout-session-required",
        "--allowed-origin", "https://shop.example.com",
        "--allowed-origin", "http://localhost:3000",
        "--allowed-origin", "https://shop.example.com",
        "--skip-consent",
        "--first-party",
        "--logo-uri", "https://shop.example.com/logo.png",
        "--always-issue-refresh-token",
    )  # fmt: skip
    expected = {
        "application_type": "web",
        "backchannel_logout_uri": "https://shop.example.com/logout?from=idp",
        "backchannel_logout_session_required": True,
        "allowed_cors_origins": ["https://shop.example.com", "http://localhost:3000"],  # de-duped
        "skip_consent": True,
        "first_party": True,
        "logo_uri": "https://shop.example.com/logo.png",
        "always_issue_refresh_token": True,
    }
    assert {name: client[name] for name in expected} == expected
    shown = install.json("clients", "show", "--tenant", tenant, client["client_id"])
    assert {name: shown[name] for name in expected} == expected
    listed = install.json("clients", "list", "--tenant", tenant)
    assert [c for c in listed if c["client_id"] == client["client_id"]] == [shown]


def test_a_native_client_registers_a_private_use_scheme_and_a_loopback_listener(
    install: Installation, tenant: str
) -> None:
    client = create(
        install, tenant,
        "--public", "--grant-types", "authorization_code", "--application-type", "native",
        "--redirect-uri", "com.example.shop:/cb", "--redirect-uri", "http://127.0.0.1/cb",
    )  # fmt: skip
    assert client["application_type"] == "native"
    assert client["redirect_uris"] == ["com.example.shop:/cb", "http://127.0.0.1/cb"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (("--application-type", "desktop"), "--application-type"),
        (("--backchannel-logout-uri", "http://shop.example.com/logout"), "backchannel_logout_uri"),
        (("--backchannel-logout-uri", "https://shop.example.com/l#x"), "backchannel_logout_uri"),
        (("--backchannel-logout-uri", "/logout"), "backchannel_logout_uri"),
        (("--backchannel-logout-session-required",), "backchannel_logout_session_required"),
        (("--logo-uri", "javascript:alert(1)"), "logo_uri"),
        (("--logo-uri", "data:image/png;base64,AAAA"), "logo_uri"),
        (("--allowed-origin", "https://shop.example.com/"), "allowed_cors_origins"),
        (("--allowed-origin", "https://*.example.com"), "allowed_cors_origins"),
        (("--allowed-origin", "https://Shop.Example.com"), "allowed_cors_origins"),
        (("--allowed-origin", "http://shop.example.com"), "allowed_cors_origins"),
        (("--allowed-origin", "https://shop.example.com:443"), "allowed_cors_origins"),
        (("--application-type", "native"), "redirect_uris"),  # https is for web clients
    ],
)
def test_bad_values_are_refused_naming_the_field(
    install: Installation, tenant: str, options: tuple[str, ...], field: str
) -> None:
    result = install.run(
        "clients", "create", "--tenant", tenant, "--name", "Shop",
        "--grant-types", "authorization_code", "--redirect-uri", "https://shop.example.com/cb",
        *options, "--json",
    )  # fmt: skip
    assert result.code != 0 and result.stdout == "", result.stdout
    assert field in result.stderr
