"""The embedded default (DESIGN §12): each message written to a directory instead of sent.

One `.eml` file (RFC 5322) per message and nothing else, so several gunicorn workers and
instances sharing the directory never write the same file: each is written under a temporary
name and renamed into place, which is atomic, so a reader never sees half a message. The file's
name comes from the message's date and Message-ID, so a job delivered twice (at least once)
leaves one file. Files are the owner's alone: their links sign people in.
"""

from __future__ import annotations

import email
import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import ModuleType

from idp.mail.base import TemporaryFailure
from idp.mail.message import OutgoingMail

SUFFIX = ".eml"
MESSAGE_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{12}")
# What a person can follow: http(s) URLs up to the first space or closing bracket.
LINK = re.compile(r"https?://[^\s<>\"')\]]+")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    to: str
    sender: str
    subject: str
    date: str
    text: str
    links: list[str]

    def summary(self) -> dict[str, str]:
        return {"id": self.id, "date": self.date, "to": self.to, "subject": self.subject}


class OutboxSender:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def send(self, mail: OutgoingMail) -> None:
        digest = hashlib.sha256(mail.message_id.encode()).hexdigest()[:12]
        name = f"{mail.date:%Y%m%dT%H%M%S}Z-{digest}"
        try:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = self._directory / f".{name}.{secrets.token_hex(4)}.tmp"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(mail.to_email().as_bytes(policy=_policies().SMTP))
            os.replace(partial, self._directory / f"{name}{SUFFIX}")
        except OSError as error:
            raise TemporaryFailure(f"outbox not writable: {type(error).__name__}") from None
        # The link itself stays out of the log (DESIGN §7): it is a one-time secret.
        log.info("mail written to the outbox: `idp mail show %s` shows it and its links", name)


class Outbox:
    """Reading what the OutboxSender wrote, for `idp mail list|show`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def entries(self) -> list[OutboxEntry]:
        """Every message, oldest first (names start with the date)."""
        if not self._directory.is_dir():
            return []
        names = sorted(
            path.stem for path in self._directory.glob(f"*{SUFFIX}") if _valid(path.stem)
        )
        return [self._read(name) for name in names]

    def entry(self, name: str) -> OutboxEntry | None:
        if not _valid(name) or not (self._directory / f"{name}{SUFFIX}").is_file():
            return None
        return self._read(name)

    def _read(self, name: str) -> OutboxEntry:
        raw = (self._directory / f"{name}{SUFFIX}").read_bytes()
        message = email.message_from_bytes(raw, policy=_policies().default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        return OutboxEntry(
            id=name,
            to=str(message["To"]),
            sender=str(message["From"]),
            subject=str(message["Subject"]),
            date=parsedate_to_datetime(str(message["Date"])).isoformat(),
            text=text,
            links=list(dict.fromkeys(LINK.findall(text))),
        )


def _valid(name: str) -> bool:
    """Only names we write: `idp mail show ../../etc/passwd` reads nothing."""
    return MESSAGE_NAME.fullmatch(name) is not None


def _policies() -> ModuleType:
    """email.policy, imported when a message is first written or read: with the header
    parsers it loads, it costs each worker 0.5 MB that most of them never need."""
    import email.policy

    return email.policy
