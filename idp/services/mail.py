"""Mail to people (DESIGN §12): rendered now, queued in the database, sent in the background.

`queue` renders the message and writes it as a job in the caller's transaction, so a mail
exists exactly when what made it owed does; the sender (idp/mail/: SMTP or the outbox) is only
called by a consumer of the job queue (services/job_queue.py), so a slow or dead mail server
never slows or fails the request. A mail server that is unreachable or answers 4xx is tried
again with backoff; a 5xx answer ends the job (RFC 5321 §4.2.1).

The job's payload lives in the database until the mail is sent, and a message may carry a
one-time link (a verification or reset token). So the rendered body, where such a link is, is
sealed with the KEK (AES-GCM, bound to the tenant and the Message-ID, so a body cannot be moved
into another job): someone who reads the table, a backup or a log of the job sees the
recipient and the subject, never a link. Links are built from `server.public_url` only, never
from a request's Host (DESIGN §12), which an attacker could set to a site of their own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import make_msgid
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session, sessionmaker

from idp.crypto.kek import Kek, KekError
from idp.mail import MailSender, OutgoingMail, PermanentFailure, TemporaryFailure
from idp.models.job_repository import ClaimedJob
from idp.services.errors import InvalidInput
from idp.services.job_queue import GiveUp, JobQueue, RetryLater
from idp.services.mail_templates import MailTemplates
from idp.services.tenancy.branding import Branding
from idp.services.tenancy.tenants import TenantView
from idp.settings import MailSettings

JOB_KIND = "mail"
TEST_MESSAGE = "test"


@dataclass(frozen=True)
class QueuedMail:
    job_id: int
    to: str
    subject: str
    message_id: str


class Mailer:
    """Renders, queues and (as the handler of "mail" jobs) sends the messages of every tenant."""

    def __init__(
        self,
        jobs: JobQueue,
        session_factory: sessionmaker[Session],
        kek: Kek,
        sender: MailSender,
        settings: MailSettings,
        public_url: str,
        templates: MailTemplates | None = None,
    ) -> None:
        self._jobs = jobs
        self._session_factory = session_factory
        self._kek = kek
        self._sender = sender
        self._settings = settings
        self._public_url = public_url
        self._templates = templates or MailTemplates()
        jobs.handle(JOB_KIND, self._deliver)

    def issuer(self, tenant: TenantView) -> str:
        """The tenant's issuer from configuration: the root of every link in its mail."""
        return f"{self._public_url}/t/{tenant.slug}"

    def queue(
        self,
        session: Session,
        tenant: TenantView,
        to: str,
        message: str,
        values: Mapping[str, Any],
    ) -> QueuedMail:
        """Render `message` for `to` and queue it in the caller's transaction; `wake` after
        the commit. `values` are the template's, links among them already absolute."""
        address = recipient(to)
        brand = Branding.of(tenant)
        rendered = self._templates.render(
            message, brand, {**values, "to": address}, tenant_slug=tenant.slug
        )
        message_id = make_msgid(domain=self._settings.from_address.rpartition("@")[2])
        body = json.dumps({"text": rendered.text, "html": rendered.html}).encode()
        sealed = self._kek.seal(body, _seal_context(tenant.id, message_id))
        payload = {
            "to": address,
            "subject": rendered.subject,
            "sender_name": brand.name,
            "message_id": message_id,
            "date": datetime.now(UTC).isoformat(),
            "sealed_body": base64.urlsafe_b64encode(sealed).decode(),
        }
        [job_id] = self._jobs.add(session, JOB_KIND, tenant.id, [payload])
        return QueuedMail(job_id, address, rendered.subject, message_id)

    def queue_test(self, tenant: TenantView, to: str) -> QueuedMail:
        """The branded test message (`idp mail test`), so an operator can check the mail
        settings; its one link is the tenant's discovery document, nothing secret. Committed
        but not woken: the command makes the first attempt itself (JobQueue.run_now)."""
        discovery = f"{self.issuer(tenant)}/.well-known/openid-configuration"
        with self._session_factory() as session:
            queued = self.queue(session, tenant, to, TEST_MESSAGE, {"discovery_url": discovery})
            session.commit()
        return queued

    def wake(self) -> None:
        self._jobs.wake()

    def _deliver(self, job: ClaimedJob) -> None:
        """One attempt; raises RetryLater or GiveUp (services/job_queue.py) when it fails."""
        payload = job.payload
        message_id = str(payload["message_id"])
        try:
            sealed = base64.urlsafe_b64decode(str(payload["sealed_body"]))
            body = json.loads(self._kek.open(sealed, _seal_context(job.tenant_id, message_id)))
        except KekError:
            raise GiveUp(
                "mail body cannot be opened: the KEK changed or the job was altered"
            ) from None
        mail = OutgoingMail(
            sender_name=str(payload["sender_name"]),
            sender_address=self._settings.from_address,
            to=str(payload["to"]),
            subject=str(payload["subject"]),
            text=body["text"],
            html=body["html"],
            message_id=message_id,
            date=datetime.fromisoformat(str(payload["date"])),
        )
        try:
            self._sender.send(mail)
        except TemporaryFailure as failure:
            raise RetryLater(str(failure)) from None
        except PermanentFailure as failure:
            raise GiveUp(str(failure)) from None


def recipient(address: str) -> str:
    """The address as email-validator normalises it (RFC 5321/5322 syntax, IDNA domains)."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput("to", str(error)) from None


def _seal_context(tenant_id: int, message_id: str) -> str:
    return f"mail:{tenant_id}:{message_id}"
