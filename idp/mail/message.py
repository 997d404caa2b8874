"""One outgoing message as every sender takes it, and its RFC 5322 form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr


@dataclass(frozen=True)
class OutgoingMail:
    """A rendered message: the text and HTML versions of one content (RFC 2046 §5.1.4)."""

    sender_name: str
    sender_address: str
    to: str
    subject: str
    text: str
    html: str
    message_id: str  # RFC 5322 §3.6.4, `<...>`: the same on every attempt, so a repeat is known
    date: datetime

    def to_email(self) -> EmailMessage:
        message = EmailMessage()
        # A display name with a line break would be a header injection; EmailMessage refuses
        # it, and folding whitespace here keeps a tenant's odd name from failing every mail.
        message["From"] = formataddr((" ".join(self.sender_name.split()), self.sender_address))
        message["To"] = self.to
        message["Subject"] = " ".join(self.subject.split())
        message["Date"] = format_datetime(self.date)
        message["Message-ID"] = self.message_id
        # multipart/alternative, plainest first: clients show the last part they can display.
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message
