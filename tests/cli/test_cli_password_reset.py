"""`idp users reset-password` (issue 9 §4): an operator mails a person the reset link of the
forgot-password page, through the real console script, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support.cli import Installation


def test_an_operator_mails_a_reset_link(install: Installation, tenant: str):
    install.json(
        "users", "create", "--tenant", tenant, "--email", "reset.me@example.com",
        "--password", "correct horse battery",
    )  # fmt: skip
    sent = install.json("users", "reset-password", "--tenant", tenant, "Reset.Me@example.com")
    assert sent == {"email": "reset.me@example.com", "password_reset": "sent"}
    [entry] = [row for row in install.json("mail", "list") if row["to"] == "reset.me@example.com"]
    shown = install.json("mail", "show", entry["id"])
    [link] = shown["links"]
    assert link.startswith(f"http://localhost:5000/t/{tenant}/password/reset?token=")


def test_an_unknown_user_is_one_error_line(install: Installation, tenant: str):
    result = install.run("users", "reset-password", "--tenant", tenant, "nobody@example.com")
    assert result.code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
