"""`idp mail`: check the mail settings, and read what the embedded outbox holds."""

from __future__ import annotations

from pathlib import Path

import click

from idp.cli.base import emit, fail, handles_errors, json_option, open_services, tenant_of
from idp.mail import Outbox, OutboxEntry
from idp.settings import load_settings


@click.group("mail")
def mail() -> None:
    """Send a test message; list and show the messages in the outbox."""


@mail.command("test")
@click.option("--tenant", "slug", required=True, help="Whose branding the message carries.")
@click.option("--to", "to", required=True, help="The address to send it to.")
@json_option
@handles_errors
def mail_test(slug: str, to: str, as_json: bool) -> None:
    """Queue a test message and make its first attempt now, reporting how it went.

    A failed attempt leaves the job queued: a running server retries it ([queue] settings).
    """
    container = open_services()
    queued = container.mailer.queue_test(tenant_of(container, slug), to)
    attempt = container.jobs.run_now(queued.job_id)
    # None: a running server's consumer took the job first, and sends it.
    status = "queued" if attempt is None else attempt.outcome
    failure = attempt.failure if attempt else None
    if status == "abandoned":
        fail(f"the message was not sent: {failure}")
    settings = container.settings.mail
    result = {
        "job_id": queued.job_id,
        "message_id": queued.message_id,
        "to": queued.to,
        "subject": queued.subject,
        "status": "sent" if status == "done" else status,
        "failure": failure,
        "outbox": None if settings.smtp_url else settings.outbox_dir,
    }
    emit(result, as_json)
    if status == "retrying":
        fail(
            f"the first attempt failed ({failure}); job {queued.job_id} stays queued "
            "and a running server retries it"
        )


@mail.command("list")
@json_option
@handles_errors
def mail_list(as_json: bool) -> None:
    """The messages in the outbox (`mail.outbox_dir`), oldest first."""
    entries = _outbox().entries()
    emit([entry.summary() for entry in entries], as_json, _table if entries else None)


@mail.command("show")
@click.argument("message_id")
@json_option
@handles_errors
def mail_show(message_id: str, as_json: bool) -> None:
    """One message of the outbox: to, subject, date, its text and the links in it."""
    entry = _outbox().entry(message_id)
    if entry is None:
        fail(f"no message {message_id} in the outbox (see `idp mail list`)")
    emit(_details(entry), as_json, lambda _: _shown(entry))


def _outbox() -> Outbox:
    settings = load_settings(click.get_current_context().find_root().obj.get("config"))
    return Outbox(Path(settings.mail.outbox_dir))


def _details(entry: OutboxEntry) -> dict[str, object]:
    return {**entry.summary(), "from": entry.sender, "links": entry.links, "text": entry.text}


def _table(rows: list[dict[str, str]]) -> str:
    return "\n".join(f"{row['id']}  {row['date']}  {row['to']}  {row['subject']}" for row in rows)


def _shown(entry: OutboxEntry) -> str:
    links = "\n".join(f"  {link}" for link in entry.links) or "  (none)"
    return (
        f"id: {entry.id}\ndate: {entry.date}\nfrom: {entry.sender}\nto: {entry.to}\n"
        f"subject: {entry.subject}\nlinks:\n{links}\n\n{entry.text}"
    )
