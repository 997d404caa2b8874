"""Mail through the job queue (services/mail.py, idp/mail/, DESIGN §12) to a real SMTP server on
loopback (aiosmtpd), on SQLite and on PostgreSQL: the branded message arrives with both parts,
over STARTTLS with AUTH or over implicit TLS; a dead or silent server never holds up the
caller, and the mail goes out once a server answers; 4xx is retried, 5xx ends the job.

Each backend gets a database of its own: the session's server also handles "mail" jobs, and
must not take these tests' jobs to its outbox.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import delete

from idp.models.jobs import QueuedJob
from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from idp.services.mail import JOB_KIND
from idp.services.tenancy.tenant_settings import update_settings
from idp.services.tenancy.tenants import TenantView
from tests.conftest import settings_for_tests
from tests.support.backends import Backend, postgres_backend, sqlite_backend
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.tls import Certificates, make_certificates

# Links come from configuration only; nothing ever connects to this address.
PUBLIC_URL = "https://id.example.com"
USER, PASSWORD = "mailer", "s3cret p@ss/word"
QUICK_RETRIES = {"poll_seconds": 1, "retry_base_seconds": 1, "retry_max_seconds": 2}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Backend, Path]]:
    directory = tmp_path_factory.mktemp(f"mail-{request.param}")
    backends = (
        iter([sqlite_backend(directory)]) if request.param == "sqlite" else postgres_backend()
    )
    for backend in backends:
        services = build_services(
            settings_for_tests(backend, directory, PUBLIC_URL), create_kek=True
        )
        upgrade(services.engine)
        services.engine.dispose()
        yield backend, directory


@pytest.fixture
def mail_services(database: tuple[Backend, Path]) -> Iterator[Callable[..., Services]]:
    """Services over the module's database with the test's [mail] settings; afterwards their
    consumers stop and no mail job is left for the next test's server."""
    backend, directory = database
    built: list[Services] = []

    def build(**mail: Any) -> Services:
        settings = settings_for_tests(backend, directory, PUBLIC_URL).replace(
            mail={"timeout_seconds": 1.0, **mail}, queue=QUICK_RETRIES
        )
        services = build_services(settings)
        built.append(services)
        return services

    yield build
    for services in built:
        services.jobs.stop()
        with services.session_factory() as session:
            session.execute(delete(QueuedJob).where(QueuedJob.kind == JOB_KIND))
            session.commit()
        services.close()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_servers() -> Iterator[list[SmtpServer]]:
    started: list[SmtpServer] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[SmtpServer], server: SmtpServer) -> SmtpServer:
    servers.append(server.start())
    return server


def branded_tenant(services: Services) -> TenantView:
    tenant = Factory(services, PUBLIC_URL).tenant(name="Acme Corporation")
    branding = {"display_name": "Acme Sign-in", "primary_color": "#b4235a"}
    return update_settings(
        services.uow(), tenant.slug, branding, {}, services.settings.tokens
    ).tenant


def job(services: Services, job_id: int) -> QueuedJob | None:
    with services.session_factory() as session:
        return session.get(QueuedJob, job_id)


def wait_for_job(
    services: Services, job_id: int, done: Callable[[QueuedJob | None], bool], timeout: float = 15
) -> QueuedJob | None:
    deadline = time.monotonic() + timeout
    while not done(row := job(services, job_id)):
        assert time.monotonic() < deadline, f"job {job_id} still {row and row.last_error}"
        time.sleep(0.05)
    return row


def test_the_test_message_arrives_branded_over_starttls_with_auth(
    mail_services, smtp_servers, certificates
):
    smtp = start(smtp_servers, SmtpServer(free_port(), certificates, credentials=(USER, PASSWORD)))
    url = f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{smtp.port}"
    services = mail_services(smtp_url=f"{url}?ssl_ca_certs={certificates.ca}")
    tenant = branded_tenant(services)
    discovery = f"{PUBLIC_URL}/t/{tenant.slug}/.well-known/openid-configuration"

    queued = services.mailer.queue_test(tenant, "Person@Example.com")
    stored = job(services, queued.job_id)
    assert stored is not None
    # The body (where a one-time link would be) is sealed in the table, not in clear.
    assert discovery not in json.dumps(stored.payload)
    assert "Acme Sign-in" not in stored.payload["sealed_body"]
    services.mailer.wake()  # the background consumers, as after a request's commit

    [mail] = smtp.wait_for(1)
    assert (mail.tls, mail.login) == (True, USER)
    assert (mail.mail_from, mail.rcpt_tos) == ("no-reply@example.com", ["Person@example.com"])
    message = mail.message
    assert message["From"] == "Acme Sign-in <no-reply@example.com>"
    assert message["To"] == "Person@example.com"
    assert message["Subject"] == "Test message from Acme Sign-in"
    assert message["Message-ID"] == queued.message_id
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Acme Sign-in" in part
        assert discovery in part
    assert f'<a href="{discovery}" style="color: #b4235a;">' in html
    wait_for_job(services, queued.job_id, lambda row: row is None)


def test_smtps_speaks_tls_from_the_first_byte(mail_services, smtp_servers, certificates):
    smtp = start(smtp_servers, SmtpServer(free_port(), certificates, implicit_tls=True))
    services = mail_services(
        smtp_url=f"smtps://127.0.0.1:{smtp.port}?ssl_ca_certs={certificates.ca}"
    )
    queued = services.mailer.queue_test(branded_tenant(services), "person@example.com")
    attempt = services.jobs.run_now(queued.job_id)
    assert attempt is not None and attempt.outcome == "done", attempt
    [mail] = smtp.wait_for(1)
    assert mail.message["Subject"] == "Test message from Acme Sign-in"


def test_an_unknown_certificate_authority_is_refused(mail_services, smtp_servers, certificates):
    """Without ssl_ca_certs the test CA is not trusted: no mail goes to an unverified server."""
    smtp = start(smtp_servers, SmtpServer(free_port(), certificates))
    services = mail_services(smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    queued = services.mailer.queue_test(branded_tenant(services), "person@example.com")
    attempt = services.jobs.run_now(queued.job_id)
    assert attempt is not None
    assert (attempt.outcome, attempt.failure) == (
        "retrying",
        "SMTP attempt failed: SSLCertVerificationError",
    )
    assert smtp.attempts == 0


def test_no_password_goes_over_a_connection_without_starttls(mail_services, smtp_servers):
    smtp = start(smtp_servers, SmtpServer(free_port()))  # no certificates: no STARTTLS offered
    services = mail_services(
        smtp_url=f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{smtp.port}"
    )
    queued = services.mailer.queue_test(branded_tenant(services), "person@example.com")
    attempt = services.jobs.run_now(queued.job_id)
    assert attempt is not None
    assert attempt.outcome == "retrying"
    assert attempt.failure == "SMTP server offers no STARTTLS: the password is not sent"
    assert smtp.attempts == 0


def test_a_dead_server_holds_nobody_up_and_the_mail_goes_out_when_it_starts(
    mail_services, smtp_servers
):
    port = free_port()  # nothing listens here yet
    services = mail_services(smtp_url=f"smtp://127.0.0.1:{port}")
    tenant = branded_tenant(services)

    began = time.monotonic()
    queued = services.mailer.queue_test(tenant, "person@example.com")
    services.mailer.wake()
    assert time.monotonic() - began < 0.5

    failed = wait_for_job(
        services, queued.job_id, lambda row: row is not None and row.last_error is not None
    )
    assert failed is not None
    assert failed.last_error == "SMTP attempt failed: ConnectionRefusedError"
    smtp = start(smtp_servers, SmtpServer(port))
    [mail] = smtp.wait_for(1)  # a retry, 1 or 2 s later (QUICK_RETRIES)
    assert mail.message["Message-ID"] == queued.message_id
    wait_for_job(services, queued.job_id, lambda row: row is None)


def test_a_server_that_never_answers_times_out_in_the_background(mail_services):
    with socket.socket() as silent:  # accepts connections into its backlog, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        services = mail_services(smtp_url=f"smtp://127.0.0.1:{silent.getsockname()[1]}")
        tenant = branded_tenant(services)
        began = time.monotonic()
        queued = services.mailer.queue_test(tenant, "person@example.com")
        services.mailer.wake()
        assert time.monotonic() - began < 0.5
        failed = wait_for_job(
            services, queued.job_id, lambda row: row is not None and row.last_error is not None
        )
        assert failed is not None
        assert failed.last_error == "SMTP attempt failed: TimeoutError"


def test_a_temporary_rejection_is_retried(mail_services, smtp_servers):
    smtp = start(smtp_servers, SmtpServer(free_port(), reply="451 4.3.0 try again later"))
    services = mail_services(smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    queued = services.mailer.queue_test(branded_tenant(services), "person@example.com")
    attempt = services.jobs.run_now(queued.job_id)
    assert attempt is not None
    assert (attempt.outcome, attempt.failure) == ("retrying", "SMTP 451: SMTPDataError")
    row = job(services, queued.job_id)
    assert row is not None and row.last_error == "SMTP 451: SMTPDataError"


def test_a_permanent_rejection_ends_the_job(mail_services, smtp_servers):
    smtp = start(smtp_servers, SmtpServer(free_port(), reply="550 5.1.1 no such mailbox"))
    services = mail_services(smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    queued = services.mailer.queue_test(branded_tenant(services), "person@example.com")
    services.mailer.wake()
    wait_for_job(services, queued.job_id, lambda row: row is None)
    time.sleep(1.5)  # longer than a retry would wait
    assert (smtp.attempts, smtp.received) == (1, [])
