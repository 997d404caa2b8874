"""The `idp` command (DESIGN §10), driven as a user drives it: the installed console script.

Data commands print JSON with --json; failures exit 1 with one `error:` line and no output.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

import pytest

from idp.settings import SIGNING_ALGS
from tests.support.cli import Installation

RESOURCE = "https://api.example.com"


def create_client(install: Installation, tenant: str, *options: str) -> dict:
    return install.json("clients", "create", "--tenant", tenant, "--name", "Billing", *options)


def test_tenants_create_list_show(install: Installation) -> None:
    slug = f"acme-{secrets.token_hex(3)}"
    created = install.json("tenants", "create", "--slug", slug, "--name", "Acme")
    assert created["slug"] == slug
    assert created["name"] == "Acme"
    assert created["issuer"] == f"http://localhost:5000/t/{slug}"

    assert slug in [t["slug"] for t in install.json("tenants", "list")]
    assert install.json("tenants", "show", slug) == created


def test_confidential_client_is_issued_a_secret_shown_once(
    install: Installation, tenant: str
) -> None:
    result = install.run(
        "clients", "create", "--tenant", tenant, "--name", "Billing",
        "--grant-types", "client_credentials", "--scopes", "a b", "--resource", RESOURCE, "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    client = json.loads(result.stdout)
    secret = client["client_secret"]
    assert secret.startswith("idp_cs_")
    assert client["token_endpoint_auth_method"] == "client_secret_basic"
    assert client["grant_types"] == ["client_credentials"]
    assert client["scopes"] == ["a", "b"]
    assert client["resources"] == [RESOURCE]
    assert "secret_digest" not in client
    assert hashlib.sha256(secret.encode()).hexdigest() not in result.stdout

    shown = install.json("clients", "show", "--tenant", tenant, client["client_id"])
    assert "client_secret" not in shown
    assert "secret_digest" not in shown
    assert shown == {k: v for k, v in client.items() if k != "client_secret"}


def test_public_client_has_no_secret(install: Installation, tenant: str) -> None:
    client = create_client(
        install, tenant,
        "--public", "--grant-types", "authorization_code",
        "--redirect-uri", "http://127.0.0.1:8080/callback",
        "--redirect-uri", "https://app.example.com/callback",
    )  # fmt: skip
    assert "client_secret" not in client
    assert client["token_endpoint_auth_method"] == "none"
    assert client["redirect_uris"] == [
        "http://127.0.0.1:8080/callback",
        "https://app.example.com/callback",
    ]


def test_a_sign_in_client_without_scopes_gets_the_standard_oidc_ones(
    install: Installation, tenant: str
) -> None:
    client = create_client(
        install, tenant, "--grant-types", "authorization_code,refresh_token",
        "--redirect-uri", "https://app.example.com/cb", "--json",
    )  # fmt: skip
    assert client["scopes"] == ["openid", "profile", "email", "roles", "offline_access"]


def test_clients_list_rotate_secret_delete(install: Installation) -> None:
    tenant = f"t-{secrets.token_hex(4)}"
    install.json("tenants", "create", "--slug", tenant, "--name", "Own tenant")
    client = create_client(install, tenant)
    client_id = client["client_id"]
    assert [c["client_id"] for c in install.json("clients", "list", "--tenant", tenant)] == [
        client_id
    ]

    rotated = install.json("clients", "rotate-secret", "--tenant", tenant, client_id)
    assert rotated["client_id"] == client_id
    assert rotated["client_secret"].startswith("idp_cs_")
    assert rotated["client_secret"] != client["client_secret"]

    deleted = install.json("clients", "delete", "--tenant", tenant, client_id)
    assert deleted == {"client_id": client_id, "deleted": True}
    assert install.json("clients", "list", "--tenant", tenant) == []
    gone = install.run("clients", "show", "--tenant", tenant, client_id, "--json")
    assert gone.code == 1


def test_clients_are_scoped_to_their_tenant(install: Installation, tenant: str) -> None:
    client = create_client(install, tenant)
    other = f"t-{secrets.token_hex(4)}"
    install.json("tenants", "create", "--slug", other, "--name", "Other")
    result = install.run("clients", "show", "--tenant", other, client["client_id"])
    assert (result.code, result.stdout) == (1, "")


def test_users_create_list_show_set_password_deactivate(install: Installation, tenant: str) -> None:
    user = install.json(
        "users", "create", "--tenant", tenant, "--email", "Ann.Lee@Example.COM",
        "--password", "correct horse battery", "--name", "Ann Lee", "--role", "admin",
    )  # fmt: skip
    assert user["email"].lower() == "ann.lee@example.com"
    assert (user["given_name"], user["family_name"]) == ("Ann", "Lee")
    assert user["roles"] == ["admin"]
    assert user["active"] is True
    assert not any("password" in key for key in user)

    assert user in install.json("users", "list", "--tenant", tenant)
    assert install.json("users", "show", "--tenant", tenant, "Ann.Lee@EXAMPLE.com") == user

    changed = install.json(
        "users", "set-password", "--tenant", tenant, user["email"], "--password", "new secret pw"
    )
    assert changed == {"email": user["email"], "password_changed": True}

    deactivated = install.json("users", "deactivate", "--tenant", tenant, user["email"])
    assert deactivated["active"] is False
    assert install.json("users", "show", "--tenant", tenant, user["email"])["active"] is False


def test_password_can_come_from_stdin(install: Installation, tenant: str) -> None:
    """`--password -` keeps the password out of the process list and shell history."""
    result = install.run(
        "users", "create", "--tenant", tenant, "--email", "stdin@example.com",
        "--password", "-", "--json", stdin="read from stdin\n",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "read from stdin" not in result.stdout


def test_keys_list_and_rotate(install: Installation, tenant: str) -> None:
    initial = install.json("keys", "list", "--tenant", tenant)
    assert sorted(k["alg"] for k in initial) == sorted(SIGNING_ALGS)
    assert {k["state"] for k in initial} == {"active"}

    rotated = install.json("keys", "rotate", "--tenant", tenant)
    assert sorted(k["alg"] for k in rotated) == sorted(SIGNING_ALGS)
    # Publish before use (DESIGN §4): new keys are in the JWKS but do not sign yet.
    assert {k["state"] for k in rotated} == {"published"}

    after = install.json("keys", "list", "--tenant", tenant)
    assert {k["kid"] for k in after} == {k["kid"] for k in initial + rotated}
    old = [k for k in after if k["kid"] in {i["kid"] for i in initial}]
    assert {k["state"] for k in old} == {"retiring"}
    assert all(k["retires_at"] for k in old)


def test_keys_rotate_one_algorithm(install: Installation, tenant: str) -> None:
    rotated = install.json("keys", "rotate", "--tenant", tenant, "--alg", "ES256")
    assert [k["alg"] for k in rotated] == ["ES256"]


@pytest.mark.parametrize(
    "command",
    [
        ["tenants", "list"],
        ["tenants", "show", "{tenant}"],
        ["clients", "list", "--tenant", "{tenant}"],
        ["users", "list", "--tenant", "{tenant}"],
        ["keys", "list", "--tenant", "{tenant}"],
    ],
)
def test_without_json_output_is_readable_text(
    install: Installation, tenant: str, command: list[str]
) -> None:
    result = install.run(*(part.format(tenant=tenant) for part in command))
    assert result.code == 0, result.stderr
    assert result.stdout.strip()
    with pytest.raises(ValueError):
        json.loads(result.stdout)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["tenants", "show", "nope"], "error: no tenant 'nope'"),
        (["clients", "list", "--tenant", "nope"], "error: no tenant 'nope'"),
        (["tenants", "create", "--slug", "{tenant}", "--name", "Again"], "already exists"),
        (["tenants", "create", "--slug", "Not A Slug", "--name", "X"], "error: slug: "),
        (
            ["users", "create", "--tenant", "{tenant}", "--email", "no-at-sign",
             "--password", "long enough"],
            "error: email: ",
        ),
        (
            ["users", "create", "--tenant", "{tenant}", "--email", "a@example.com",
             "--password", "short"],
            "error: password: ",
        ),
        (
            ["clients", "create", "--tenant", "{tenant}", "--name", "Web",
             "--grant-types", "authorization_code", "--redirect-uri", "http://app.example.com/cb"],
            "error: redirect_uris: ",
        ),
        (
            ["clients", "create", "--tenant", "{tenant}", "--name", "Web",
             "--grant-types", "password"],
            "error: grant_types: ",
        ),
        (["clients", "show", "--tenant", "{tenant}", "nope"], "error: no client 'nope'"),
        (["clients", "rotate-secret", "--tenant", "{tenant}", "nope"], "error: no client 'nope'"),
        (["clients", "delete", "--tenant", "{tenant}", "nope"], "error: no client 'nope'"),
        (["users", "show", "--tenant", "{tenant}", "nobody@example.com"], "error: no user"),
        (["users", "deactivate", "--tenant", "{tenant}", "nobody@example.com"], "error: no user"),
    ],
)  # fmt: skip
def test_errors_exit_1_with_one_line(
    install: Installation, tenant: str, command: list[str], message: str
) -> None:
    result = install.run(*(part.format(tenant=tenant) for part in command), "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "rotate", "--tenant", "t", "--alg", "HS256"],
        ["tenants", "create", "--slug", "x"],
        ["no-such-command"],
    ],
)
def test_usage_errors_are_one_line_too(install: Installation, command: list[str]) -> None:
    result = install.run(*command)
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "--help" in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    install = Installation.create(tmp_path, "postgresql://idp@127.0.0.1:1/idp")
    result = install.run("migrate")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: database unreachable: ")


def test_demo_is_idempotent_and_keeps_its_secret_private(tmp_path: Path) -> None:
    install = Installation.create(tmp_path, f"sqlite:///{tmp_path / 'var' / 'idp.sqlite3'}")
    first = install.json("demo")
    assert first["issuer"] == "http://localhost:5000/t/demo"
    # What a newcomer opens first: the home page, and the demo's account page to sign in on.
    assert first["start_here"] == "http://localhost:5000/"
    assert first["account_page"] == "http://localhost:5000/t/demo/account"
    assert first["client_secret"].startswith("idp_cs_")
    assert first["credentials_file"] == "var/demo.json"
    saved = tmp_path / "var" / "demo.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys" / "kek").stat().st_mode & 0o777 == 0o600

    second = install.json("demo")
    assert (second["client_id"], second["client_secret"]) == (
        first["client_id"],
        first["client_secret"],
    )
    assert second == first
    assert saved.stat().st_mode & 0o777 == 0o600
    clients = install.json("clients", "list", "--tenant", "demo")
    assert [c["client_id"] for c in clients] == [first["client_id"]]
    users = install.json("users", "list", "--tenant", "demo")
    assert [u["email"] for u in users] == [first["user_email"]]
    assert users[0]["email_verified"] is True


def test_demo_replaces_a_saved_secret_that_no_longer_works(tmp_path: Path) -> None:
    install = Installation.create(tmp_path, f"sqlite:///{tmp_path / 'var' / 'idp.sqlite3'}")
    first = install.json("demo")
    rotated = install.json("clients", "rotate-secret", "--tenant", "demo", first["client_id"])

    again = install.json("demo")
    assert again["client_id"] == first["client_id"]
    assert again["client_secret"] not in (first["client_secret"], rotated["client_secret"])
    saved = json.loads((tmp_path / "var" / "demo.json").read_text())
    assert saved["client_secret"] == again["client_secret"]
    assert install.json("demo")["client_secret"] == again["client_secret"]
