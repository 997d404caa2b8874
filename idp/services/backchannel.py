"""OIDC Back-Channel Logout 1.0: telling clients that a login session ended.

When a session ends, every client it gave a code to (services/session_clients.py) that has a
`backchannel_logout_uri` receives a logout token (§2.4) by a direct POST from us (§2.5).
Delivery happens on a few daemon threads of the process: the person who signs out never waits
for a relying party, and a dead one costs nobody anything but its own retries.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idp.crypto.jwt import sign
from idp.crypto.secrets import new_identifier
from idp.services import outbound
from idp.services.id_tokens import id_token_alg
from idp.services.session_clients import LogoutNotice
from idp.services.signing_keys import KeyCache
from idp.services.tenants import TenantView
from idp.settings import TokenSettings

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # §2.4: explicit typing, so it is never taken for an ID token
# §2.4 asks for a short lifetime: the token is delivered at once or not at all.
LOGOUT_TOKEN_LIFETIME = 120
# §2.8 gives the answer no meaning beyond its status: a little of it is read, the rest dropped.
MAX_REPLY = 65536

log = logging.getLogger(__name__)


def logout_token(
    key_cache: KeyCache,
    issuer: str,
    tenant: TenantView,
    notice: LogoutNotice,
    defaults: TokenSettings,
) -> str:
    """A logout token (§2.4), signed like the client's ID tokens so it verifies the same way.

    `sid` is always present, not only for clients that registered
    `backchannel_logout_session_required`: every session we end has one, and it lets the client
    end exactly that session. There is never a `nonce` (§2.4 forbids it).
    """
    moment = time.time()
    alg = id_token_alg(tenant, notice.client, defaults)
    key = key_cache.ring(tenant.id).signer(alg, datetime.fromtimestamp(moment, UTC))
    if key is None:
        raise RuntimeError(f"tenant {tenant.slug} has no active {alg} key")
    now = int(moment)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": notice.subject,
        "aud": notice.client.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": new_identifier(16),
        "events": {LOGOUT_EVENT: {}},
        "sid": notice.sid,
    }
    return sign(claims, key, LOGOUT_TOKEN_TYPE)


@dataclass(frozen=True)
class _Delivery:
    issuer: str
    tenant: TenantView
    notice: LogoutNotice


class BackchannelSender:
    """Signs and POSTs logout tokens on a bounded pool of daemon threads.

    `notify` only enqueues: it never blocks the request that ended the session. Each delivery
    is tried `attempts` times, `timeout` seconds each, waiting `backoff`, then twice that, ...
    between tries, on connection errors and non-2xx answers alike. The queue is bounded so that
    a burst of sign-outs towards dead clients cannot eat the process's memory; what does not fit
    is logged and dropped (the clients' own session lifetimes still end those sessions).
    Threads start with the first notice in a process, so a forked worker starts its own.
    """

    def __init__(
        self,
        key_cache: KeyCache,
        defaults: TokenSettings,
        *,
        workers: int = 2,
        capacity: int = 1000,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self._key_cache = key_cache
        self._defaults = defaults
        self._workers = workers
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._queue: queue.Queue[_Delivery] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._owner_pid: int | None = None

    def notify(self, issuer: str, tenant: TenantView, notices: Sequence[LogoutNotice]) -> None:
        if not notices:
            return
        self._start()
        for notice in notices:
            try:
                self._queue.put_nowait(_Delivery(issuer, tenant, notice))
            except queue.Full:
                log.warning(
                    "back-channel logout queue full: client %s not notified",
                    notice.client.client_id,
                )

    def _start(self) -> None:
        with self._lock:
            if self._owner_pid == os.getpid():
                return
            self._owner_pid = os.getpid()
            for number in range(self._workers):
                name = f"backchannel-logout-{number}"
                threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                self._deliver(delivery)
            except Exception:  # one bad delivery must not end the thread that serves the rest
                log.exception(
                    "back-channel logout to client %s failed", delivery.notice.client.client_id
                )
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: _Delivery) -> None:
        notice = delivery.notice
        client = notice.client
        assert client.backchannel_logout_uri is not None
        token = logout_token(
            self._key_cache, delivery.issuer, delivery.tenant, notice, self._defaults
        )
        for attempt in range(1, self._attempts + 1):
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
                # Retrying cannot make the address public: give up at once.
                log.warning(
                    "back-channel logout to client %s refused: %s", client.client_id, refused
                )
                return
            except outbound.OutboundError as error:
                failure = str(error)
            else:
                if 200 <= reply.status < 300:  # §2.8: 200 OK (or any success) means done
                    return
                failure = f"HTTP {reply.status}"
            # Never the token, nor the URI (it may carry the client's own secrets).
            log.warning(
                "back-channel logout to client %s failed (attempt %d of %d): %s",
                client.client_id,
                attempt,
                self._attempts,
                failure,
            )
            if attempt < self._attempts:
                time.sleep(self._backoff * 2 ** (attempt - 1))
