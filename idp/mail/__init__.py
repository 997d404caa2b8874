"""Outgoing mail, an adapter beside `stores/`: SMTP, or the outbox directory by default.

Services render and queue messages (services/mail.py); this package only hands one over.
"""

from __future__ import annotations

from pathlib import Path

from idp.mail.base import MailError, MailSender, PermanentFailure, TemporaryFailure
from idp.mail.message import OutgoingMail
from idp.mail.outbox import Outbox, OutboxEntry, OutboxSender
from idp.mail.smtp import SmtpSender
from idp.mail.smtp_url import parse_smtp_url
from idp.settings import MailSettings


def make_sender(settings: MailSettings) -> MailSender:
    """SMTP when `mail.smtp_url` is set, else the outbox; a bad URL raises SettingsError."""
    if settings.smtp_url:
        return SmtpSender(parse_smtp_url(settings.smtp_url), settings.timeout_seconds)
    return OutboxSender(Path(settings.outbox_dir))


__all__ = [
    "MailError",
    "MailSender",
    "Outbox",
    "OutboxEntry",
    "OutboxSender",
    "OutgoingMail",
    "PermanentFailure",
    "SmtpSender",
    "TemporaryFailure",
    "make_sender",
]
