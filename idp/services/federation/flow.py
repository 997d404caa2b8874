"""The browser's round trip through an upstream (issue 11 §2): what we remember between the
redirect to the upstream and its callback, and a link waiting for its owner's proof.

Both live in the short-lived store (DESIGN §3); losing them only makes a flow fail:
- a *flow* is keyed by the `state` we send upstream (256 bits) and holds the nonce and the PKCE
  verifier (RFC 7636) of that one request, the authorization request it continues (`txn`),
  and the digest of a value only the browser that started it holds in an HttpOnly cookie.
  The callback takes it in one atomic step: a replayed callback finds nothing, and a callback
  in another browser (login CSRF: someone else's code and state) matches no cookie;
- a *pending link* holds an upstream identity that may not be linked automatically
  (linking.LinkProofNeeded) until the person proves the account it names and confirms. It is
  keyed by a random id kept in another HttpOnly cookie of the same browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from idp.crypto.secrets import digest
from idp.federation.base import UpstreamIdentity
from idp.stores import ShortLivedStore

FLOW_LIFETIME = 600  # seconds between the button and the callback
PENDING_LINK_LIFETIME = 900  # seconds to prove the account and confirm
SIGN_IN = "sign_in"
LINK = "link"  # the account page's "link another provider": the signed-in person's account
MAX_STATE = 128


@dataclass(frozen=True)
class Flow:
    state: str
    provider: str  # the provider's slug
    mode: str  # SIGN_IN or LINK
    txn: str  # the authorization request it continues ("" for none)
    nonce: str
    code_verifier: str
    user_id: int | None = None  # LINK: whose account
    browser: str = ""  # digest of the browser's cookie value


@dataclass(frozen=True)
class PendingLink:
    provider: str
    txn: str
    user_id: int
    email: str  # the account's address (the one the upstream sent)
    identity: UpstreamIdentity


def code_challenge(verifier: str) -> str:
    """S256 (RFC 7636 §4.2)."""
    raw = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Flows:
    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant_id: int, state: str) -> str:
        return f"fed-flow:{tenant_id}:{digest(state)}"

    def begin(
        self,
        tenant_id: int,
        provider: str,
        mode: str,
        txn: str,
        browser: str,
        user_id: int | None = None,
    ) -> Flow:
        """A new flow for the browser whose cookie holds `browser` (see `browser_value`)."""
        flow = Flow(
            state=secrets.token_urlsafe(32),
            provider=provider,
            mode=mode,
            txn=txn,
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(48),  # 64 characters (RFC 7636 §4.1)
            user_id=user_id,
            browser=digest(browser),
        )
        raw = json.dumps(asdict(flow), separators=(",", ":"))
        self._store.put(self._key(tenant_id, flow.state), raw, FLOW_LIFETIME)
        return flow

    def finish(self, tenant_id: int, state: str, browser: str | None) -> Flow | None:
        """The flow of `state`, spent, if this browser started it; None otherwise (unknown,
        expired, already used, or another browser's)."""
        if not state or len(state) > MAX_STATE:
            return None
        raw = self._store.take(self._key(tenant_id, state))
        if raw is None:
            return None
        flow = Flow(**json.loads(raw))
        if not browser or not hmac.compare_digest(flow.browser, digest(browser)):
            return None
        return flow


def browser_value(current: str | None) -> str:
    """The value binding flows to this browser: kept once set, so two tabs may each run one."""
    return current or secrets.token_urlsafe(32)


class PendingLinks:
    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant_id: int, handle: str) -> str:
        return f"fed-link:{tenant_id}:{digest(handle)}"

    def save(self, tenant_id: int, pending: PendingLink) -> str:
        """Remember `pending`; returns the handle for the browser's cookie."""
        handle = secrets.token_urlsafe(32)
        raw = json.dumps(asdict(pending), separators=(",", ":"))
        self._store.put(self._key(tenant_id, handle), raw, PENDING_LINK_LIFETIME)
        return handle

    def find(self, tenant_id: int, handle: str | None) -> PendingLink | None:
        raw = self._store.get(self._key(tenant_id, handle)) if handle else None
        return _pending(raw)

    def take(self, tenant_id: int, handle: str | None) -> PendingLink | None:
        """Spend it: of a double submit, only one confirmation links."""
        raw = self._store.take(self._key(tenant_id, handle)) if handle else None
        return _pending(raw)


def _pending(raw: str | None) -> PendingLink | None:
    if raw is None:
        return None
    data = json.loads(raw)
    data["identity"] = UpstreamIdentity(**data["identity"])
    return PendingLink(**data)
