"""OIDC Back-Channel Logout 1.0: telling clients that a login session ended.

When a session ends, every client it gave a code to (services/signin/session_clients.py) that has a
`backchannel_logout_uri` receives a logout token (§2.4) by a direct POST from us (§2.5).
Deliveries are jobs in the database queue (services/job_queue.py): the person who signs out
never waits for a relying party, a dead one costs nobody anything but its own retries, and a
worker that dies with deliveries pending loses none of them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from idp.crypto.jwt import sign
from idp.crypto.secrets import new_identifier
from idp.models.job_repository import ClaimedJob
from idp.models.lookups import ClientLookup
from idp.models.tenants import Tenant
from idp.services import outbound
from idp.services.job_queue import GiveUp, JobQueue, RetryLater
from idp.services.oauth_clients.clients import lookup_client
from idp.services.signin.session_clients import LogoutNotice
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.id_tokens import id_token_alg
from idp.services.tokens.signing_keys import KeyCache
from idp.settings import TokenSettings

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # §2.4: explicit typing, so it is never taken for an ID token
# §2.4 asks for a short lifetime: each attempt signs a fresh token, so a retry is never stale.
LOGOUT_TOKEN_LIFETIME = 120
# §2.8 gives the answer no meaning beyond its status: a little of it is read, the rest dropped.
MAX_REPLY = 65536
JOB_KIND = "backchannel_logout"


def logout_token(
    key_cache: KeyCache,
    issuer: str,
    tenant: TenantView,
    notice: LogoutNotice,
    defaults: TokenSettings,
    jti: str,
    issued_at: int,
) -> str:
    """A logout token (§2.4), signed like the client's ID tokens so it verifies the same way.

    `sid` is always present, not only for clients that registered
    `backchannel_logout_session_required`: every session we end has one, and it lets the client
    end exactly that session. There is never a `nonce` (§2.4 forbids it).
    """
    alg = id_token_alg(tenant, notice.client, defaults)
    key = key_cache.ring(tenant.id).signer(alg, datetime.now(UTC))
    if key is None:
        raise RuntimeError(f"tenant {tenant.slug} has no active {alg} key")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": notice.subject,
        "aud": notice.client.client_id,
        "iat": issued_at,
        "exp": issued_at + LOGOUT_TOKEN_LIFETIME,
        "jti": jti,
        "events": {LOGOUT_EVENT: {}},
        "sid": notice.sid,
    }
    return sign(claims, key, LOGOUT_TOKEN_TYPE)


class BackchannelSender:
    """Queues each logout token owed as a job (services/job_queue.py) and delivers it from there.

    `notify` only writes the jobs: the request that ended the session never waits for a relying
    party. The job holds what the token is made of (issuer, client, subject, sid), not the
    token: it is signed when it is sent, because it lives two minutes and a retry may come
    later. Any worker of any instance may send it, and a worker that dies loses nothing: at
    least once, as §2.5 allows (a client ends an already ended session again, harmlessly).
    """

    def __init__(
        self,
        jobs: JobQueue,
        session_factory: sessionmaker[Session],
        key_cache: KeyCache,
        clients: ClientLookup,
        defaults: TokenSettings,
        *,
        timeout: float = 5.0,
    ) -> None:
        self._jobs = jobs
        self._session_factory = session_factory
        self._key_cache = key_cache
        self._clients = clients
        self._defaults = defaults
        self._timeout = timeout
        jobs.handle(JOB_KIND, self._deliver)

    def notify(self, issuer: str, tenant: TenantView, notices: Sequence[LogoutNotice]) -> None:
        """Queue the logout tokens now, in a transaction of their own."""
        with self._session_factory() as session:
            self.queue(session, issuer, tenant, notices)
            session.commit()
        self.wake()

    def queue(
        self, session: Session, issuer: str, tenant: TenantView, notices: Sequence[LogoutNotice]
    ) -> None:
        """Queue the logout tokens in the transaction that ends the sessions: if it commits,
        they will be sent, whichever worker dies next. `wake` after the commit."""
        payloads = [
            {
                "issuer": issuer,
                "client_id": notice.client.client_id,
                "subject": notice.subject,
                "sid": notice.sid,
                # One logout event, one `jti`, however many attempts it takes (§2.4).
                "jti": new_identifier(16),
            }
            for notice in notices
        ]
        if payloads:
            self._jobs.add(session, JOB_KIND, tenant.id, payloads)

    def wake(self) -> None:
        self._jobs.wake()

    def _deliver(self, job: ClaimedJob) -> None:
        """One attempt; raises RetryLater or GiveUp (services/job_queue.py) when it fails."""
        payload = job.payload
        client_id = str(payload["client_id"])
        with self._session_factory() as session:
            row = session.get(Tenant, job.tenant_id)
            tenant = TenantView.of(row) if row is not None else None
        client = lookup_client(self._clients, job.tenant_id, client_id) if tenant else None
        if tenant is None or client is None or client.backchannel_logout_uri is None:
            raise GiveUp(f"client {client_id} no longer takes back-channel logout")
        notice = LogoutNotice(client, str(payload["subject"]), str(payload["sid"]))
        token = logout_token(
            self._key_cache,
            str(payload["issuer"]),
            tenant,
            notice,
            self._defaults,
            str(payload["jti"]),
            _issued_at(job),
        )
        # Never the token in a message, nor the URI (it may carry the client's own secrets).
        try:
            reply = outbound.call(
                "POST",
                client.backchannel_logout_uri,
                public_only=client.self_registered,
                max_bytes=MAX_REPLY,
                fields={"logout_token": token},
                timeout=self._timeout,
            )
        except outbound.UnsafeDestination as refused:
            # Retrying cannot make the address public.
            raise GiveUp(f"back-channel logout to client {client_id} refused: {refused}") from None
        except outbound.OutboundError as error:
            raise RetryLater(f"back-channel logout to client {client_id}: {error}") from None
        if not 200 <= reply.status < 300:  # §2.8: 200 OK (or any success) means done
            raise RetryLater(f"back-channel logout to client {client_id}: HTTP {reply.status}")


def _issued_at(job: ClaimedJob) -> int:
    """When the session ended, while that leaves the token at least half its lifetime: a quick
    retry resends the very token of the first attempt (with RS256, byte for byte). A later one
    is stamped now, since a token near its `exp` could expire on the way."""
    ended = int(job.created_at.timestamp())
    now = int(time.time())
    return ended if now - ended <= LOGOUT_TOKEN_LIFETIME // 2 else now
