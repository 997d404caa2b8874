"""A real SMTP server on loopback (aiosmtpd), in a thread of the test process.

It offers STARTTLS when given certificates (tests/support/tls.py), or speaks TLS from the first
byte with `implicit_tls` (smtps://, RFC 8314), takes AUTH PLAIN/LOGIN for
one user and password when given credentials (only over TLS, as aiosmtpd insists), and can
answer DATA with a fixed status, such as a 550 permanent rejection.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.tls import Certificates


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool  # the message came over a connection STARTTLS had encrypted
    login: str | None  # the user that authenticated, if any


@dataclass
class SmtpServer:
    port: int
    certificates: Certificates | None = None
    implicit_tls: bool = False
    credentials: tuple[str, str] | None = None
    reply: str = "250 OK"
    received: list[Received] = field(default_factory=list)
    attempts: int = 0  # DATA commands answered, accepted or not
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.certificates is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certificates.cert, self.certificates.key)
            options["ssl_context" if self.implicit_tls else "tls_context"] = context
        if self.credentials is not None:
            options["authenticator"] = self._authenticate
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} mails arrived"
            time.sleep(0.05)
        return list(self.received)

    # aiosmtpd calls handle_DATA for each message, by that name.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
        if not self.reply.startswith("250"):
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), message, session.ssl is not None, login
            )
        )
        return "250 OK"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        user, password = self.credentials
        good = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (user, password)
        return AuthResult(success=good, handled=False, auth_data=auth_data)
