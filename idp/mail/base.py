"""The contract every sender keeps, and the two ways a sending attempt fails."""

from __future__ import annotations

from typing import Protocol

from idp.mail.message import OutgoingMail


class MailError(Exception):
    """A message could not be handed over. The text names a status or an error class, never an
    address's password, a message body or a link: it is logged and stored with the job."""


class TemporaryFailure(MailError):
    """The server was unreachable or answered 4xx (RFC 5321 §4.2.1): a later attempt may pass."""


class PermanentFailure(MailError):
    """The server refused the message for good (5xx, RFC 5321 §4.2.1): repeating cannot help."""


class MailSender(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Hand the message over, or raise TemporaryFailure or PermanentFailure. May run again
        for a message already handed over (the job queue delivers at least once)."""
        ...
