"""A live server whose mail goes to a real SMTP server on loopback (aiosmtpd), on a database of
its own: the session's server consumes "mail" jobs too and would send them to its outbox.

Test modules import the `mailed` fixture (one server per backend and module); `mailed_server`
builds one with other settings (lower rate limits, say).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from tests.conftest import settings_for_tests
from tests.support.backends import postgres_backend, sqlite_backend
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.server import LiveServer, start_server
from tests.support.smtp import SmtpServer

QUICK_RETRIES = {"poll_seconds": 1, "retry_base_seconds": 1, "retry_max_seconds": 1}
LINK = re.compile(r"https?://\S+/password/reset\?token=[\w-]+")
VERIFY_LINK = re.compile(r"https?://\S+/email/verify\?token=[\w-]+")


@dataclass
class MailedServer:
    live: LiveServer
    smtp: SmtpServer

    @property
    def services(self) -> Services:
        return self.live.services

    @property
    def make(self) -> Factory:
        return Factory(self.live.services, self.live.url)

    def mails_to(self, address: str, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """The first `count` messages to `address`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r.message for r in self.smtp.received if address in r.rcpt_tos]
            if len(found) >= count:
                return found[:count]
            assert time.monotonic() < deadline, f"{len(found)} of {count} mails to {address}"
            time.sleep(0.05)

    def mails_now(self, address: str) -> int:
        return sum(address in r.rcpt_tos for r in self.smtp.received)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def reset_link(message: EmailMessage) -> str:
    found = LINK.search(text_of(message))
    assert found, text_of(message)
    return found.group(0)


def verify_link(message: EmailMessage) -> str:
    found = VERIFY_LINK.search(text_of(message))
    assert found, text_of(message)
    return found.group(0)


def mailed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, **settings: Any
) -> Iterator[MailedServer]:
    """A server over a fresh database of `request.param` ("sqlite", "postgres") that sends its
    mail by SMTP to an aiosmtpd server; `settings` are merged into the test settings."""
    directory: Path = tmp_path_factory.mktemp(f"mailed-{request.param}")
    backends = (
        iter([sqlite_backend(directory)]) if request.param == "sqlite" else postgres_backend()
    )
    for backend in backends:
        smtp = SmtpServer(free_port()).start()
        port = free_port()
        mail = {"smtp_url": f"smtp://127.0.0.1:{smtp.port}", "timeout_seconds": 1.0}
        base = settings_for_tests(backend, directory, f"http://127.0.0.1:{port}")
        services = build_services(
            base.replace(mail=mail, queue=QUICK_RETRIES, **settings), create_kek=True
        )
        upgrade(services.engine)
        live = start_server(services, port)
        try:
            yield MailedServer(live, smtp)
        finally:
            live.stop()
            services.close()
            smtp.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mailed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailedServer]:
    yield from mailed_server(request, tmp_path_factory)


MAGIC_LINK = re.compile(r"https?://\S+/magic/link\?token=[\w-]+")
MAGIC_CODE = re.compile(r"\b(\d{6})\b")


def magic_link(message: EmailMessage) -> str:
    found = MAGIC_LINK.search(text_of(message))
    assert found, text_of(message)
    return found.group(0)


def magic_code(message: EmailMessage) -> str:
    found = MAGIC_CODE.search(text_of(message).replace(magic_link(message), ""))
    assert found, text_of(message)
    return found.group(1)
