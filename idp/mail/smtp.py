"""Sending through an SMTP server (RFC 5321) with the standard library.

STARTTLS (RFC 3207) is used whenever the server offers it, and a password is never sent on a
connection that is not encrypted: a server (or someone between us) that stops offering
STARTTLS gets no credentials. Certificates are verified and host names checked. Nothing
logged or raised here holds the password, an address or the message.
"""

from __future__ import annotations

import smtplib
import ssl

from idp.mail.base import PermanentFailure, TemporaryFailure
from idp.mail.message import OutgoingMail
from idp.mail.smtp_url import SmtpUrl

# RFC 4954 §6: authentication refused or unavailable. A wrong password is the operator's to
# fix; the message is not at fault, so it waits for the fix instead of being dropped.
AUTH_CODES = (530, 534, 535, 538)


class SmtpSender:
    def __init__(self, url: SmtpUrl, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._tls = ssl.create_default_context(cafile=url.ca_file)

    def send(self, mail: OutgoingMail) -> None:
        try:
            with self._connect() as smtp:
                self._secure(smtp)
                if self._url.username is not None and self._url.password is not None:
                    smtp.login(self._url.username, self._url.password)
                smtp.send_message(mail.to_email())
        except smtplib.SMTPRecipientsRefused as refused:
            codes = sorted(code for code, _ in refused.recipients.values())
            raise _by_code(codes[0] if codes else 550, "recipient refused") from None
        except smtplib.SMTPResponseException as answer:
            if answer.smtp_code in AUTH_CODES:
                raise TemporaryFailure(f"SMTP {answer.smtp_code}: authentication failed") from None
            raise _by_code(answer.smtp_code, type(answer).__name__) from None
        except (smtplib.SMTPException, OSError) as error:  # refused, reset, timed out, bad TLS
            # smtplib reports a read that timed out as "disconnected"; the cause says more.
            cause = (error.__context__ or error) if _disconnected(error) else error
            raise TemporaryFailure(f"SMTP attempt failed: {type(cause).__name__}") from None

    def _connect(self) -> smtplib.SMTP:
        url = self._url
        if url.implicit_tls:
            return smtplib.SMTP_SSL(url.host, url.port, timeout=self._timeout, context=self._tls)
        return smtplib.SMTP(url.host, url.port, timeout=self._timeout)

    def _secure(self, smtp: smtplib.SMTP) -> None:
        if self._url.implicit_tls:
            return
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=self._tls)
            smtp.ehlo()  # RFC 3207 §4.2: what the server offers is asked again after TLS
        elif self._url.username is not None:
            raise TemporaryFailure("SMTP server offers no STARTTLS: the password is not sent")


def _disconnected(error: Exception) -> bool:
    return isinstance(error, smtplib.SMTPServerDisconnected)


def _by_code(code: int, what: str) -> TemporaryFailure | PermanentFailure:
    """RFC 5321 §4.2.1: 4yz is transient, 5yz permanent."""
    if 500 <= code < 600:
        return PermanentFailure(f"SMTP {code}: {what}")
    return TemporaryFailure(f"SMTP {code}: {what}")
