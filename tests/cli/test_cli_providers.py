"""`idp providers` (issue 11 §1): configure upstream providers from a terminal, with the callback
URL to register upstream in every answer and the secret read from standard input only."""

from __future__ import annotations

from tests.support.cli import Installation


def test_create_show_update_list_delete(install: Installation, tenant: str) -> None:
    created = install.run(
        "providers",
        "create",
        "--tenant",
        tenant,
        "--kind",
        "github",
        "--client-id",
        "gh-client",
        "--client-secret-stdin",
        "--api-base-url",
        "https://ghe.example/api/v3",
        "--json",
        stdin="gh-secret-value\n",
    )
    assert created.code == 0, created.stderr
    assert "gh-secret-value" not in created.stdout
    shown = install.json("providers", "show", "--tenant", tenant, "github")
    assert shown["client_secret_set"] is True
    assert shown["api_base_url"] == "https://ghe.example/api/v3"
    assert shown["token_endpoint"] == "https://github.com/login/oauth/access_token"
    assert shown["callback_url"].endswith(f"/t/{tenant}/federation/github/callback")

    updated = install.json(
        "providers", "update", "--tenant", tenant, "github", "--api-base-url", "", "--disable"
    )
    assert (updated["api_base_url"], updated["enabled"]) == ("https://api.github.com", False)

    google = install.json(
        "providers",
        "create",
        "--tenant",
        tenant,
        "--kind",
        "google",
        "--client-id",
        "g-web",
        "--allowed-audiences",
        "android-app ios-app",
    )
    assert google["issuer"] == "https://accounts.google.com"
    assert google["allowed_audiences"] == ["android-app", "ios-app"]

    listed = install.json("providers", "list", "--tenant", tenant)
    assert [p["slug"] for p in listed] == ["github", "google"]
    assert all("callback_url" in p for p in listed)

    deleted = install.json("providers", "delete", "--tenant", tenant, "google")
    assert deleted == {"slug": "google", "deleted": True}
    assert [p["slug"] for p in install.json("providers", "list", "--tenant", tenant)] == ["github"]


def test_errors_are_one_line(install: Installation, tenant: str) -> None:
    missing_issuer = install.run(
        "providers", "create", "--tenant", tenant, "--kind", "oidc", "--client-id", "c"
    )
    assert missing_issuer.code == 1
    assert missing_issuer.stderr.startswith("error: ") and "issuer" in missing_issuer.stderr
    unknown = install.run("providers", "show", "--tenant", tenant, "nope")
    assert unknown.code == 1 and unknown.stderr.startswith("error: ")
    wrong_kind_field = install.run(
        "providers",
        "create",
        "--tenant",
        tenant,
        "--kind",
        "github",
        "--slug",
        "gh2",
        "--client-id",
        "c",
        "--issuer",
        "https://sso.example",
    )
    assert wrong_kind_field.code == 1 and "does not apply" in wrong_kind_field.stderr
