"""`idp mail` (DESIGN §10, §12) through the real console script, on SQLite and PostgreSQL: the
test message lands in the outbox by default, where `list` and `show` find it with its link; with
`mail.smtp_url` it goes to a real SMTP server on loopback; mistakes are one `error:` line."""

from __future__ import annotations

import json
import stat

from tests.support.cli import Installation
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer


def test_the_test_message_is_in_the_outbox_with_its_link(install: Installation, tenant: str):
    sent = install.json("mail", "test", "--tenant", tenant, "--to", "Admin@Example.com")
    assert (sent["status"], sent["to"], sent["outbox"]) == (
        "sent",
        "Admin@example.com",
        "var/outbox",
    )

    listed = install.json("mail", "list")
    [entry] = [row for row in listed if row["to"] == "Admin@example.com"]
    assert entry["subject"] == sent["subject"] == "Test message from Test tenant"
    shown = install.json("mail", "show", entry["id"])
    link = f"http://localhost:5000/t/{tenant}/.well-known/openid-configuration"
    assert shown["links"] == [link]
    assert shown["from"] == "Test tenant <no-reply@example.com>"
    assert "This is a test message from Test tenant" in shown["text"]

    human = install.run("mail", "show", entry["id"])
    assert human.code == 0 and link in human.stdout
    eml = install.directory / "var" / "outbox" / f"{entry['id']}.eml"
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600  # its links may sign someone in


def test_show_of_an_unknown_message_is_one_error_line(install: Installation):
    for name in ("20990101T000000Z-000000000000", "../config"):
        result = install.run("mail", "show", name)
        assert result.code == 1
        assert result.stderr == f"error: no message {name} in the outbox (see `idp mail list`)\n"


def test_a_bad_address_or_smtp_url_is_one_error_line(install: Installation, tenant: str):
    bad_to = install.run("mail", "test", "--tenant", tenant, "--to", "nobody")
    assert (bad_to.code, bad_to.stderr.count("\n")) == (1, 1)
    assert bad_to.stderr.startswith("error: to: ")
    bad_url = install.run(
        "mail", "test", "--tenant", tenant, "--to", "a@example.com",
        IDP_MAIL__SMTP_URL="smtp://u:hunter2@mail.example.com:70000",
    )  # fmt: skip
    assert (bad_url.code, bad_url.stderr) == (1, "error: mail.smtp_url has no valid port\n")


def test_with_smtp_url_the_message_goes_to_the_server(install: Installation, tenant: str):
    smtp = SmtpServer(free_port()).start()
    try:
        sent = install.json(
            "mail", "test", "--tenant", tenant, "--to", "ops@example.com",
            IDP_MAIL__SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
        )  # fmt: skip
        [mail] = smtp.wait_for(1)
    finally:
        smtp.stop()
    assert (sent["status"], sent["outbox"]) == ("sent", None)
    assert mail.message["Message-ID"] == sent["message_id"]
    assert mail.rcpt_tos == ["ops@example.com"]


def test_an_unreachable_server_fails_the_check_and_leaves_the_job(
    install: Installation, tenant: str
):
    result = install.run(
        "mail", "test", "--tenant", tenant, "--to", "ops@example.com", "--json",
        IDP_MAIL__SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert result.code == 1
    assert json.loads(result.stdout)["status"] == "retrying"
    job_id = json.loads(result.stdout)["job_id"]
    assert result.stderr.splitlines()[-1] == (
        "error: the first attempt failed (SMTP attempt failed: ConnectionRefusedError); "
        f"job {job_id} stays queued and a running server retries it"
    )
