"""Authorization requests in flight and the codes they end with (RFC 6749 §4.1, OIDC Core §3.1).

Both live in the short-lived store (DESIGN §3), so any worker or instance can continue what
another began:
- a *transaction* holds a validated authorization request while the person signs in or
  consents (10 minutes), keyed by a random id the login and consent pages carry;
- a *code* holds what the token endpoint needs (RFC 9700 §4.5, DESIGN §5): client, redirect
  URI, PKCE challenge, nonce, scopes, the claims asked for by name (OIDC Core §5.5) and the
  session's subject, sid and auth_time. It lives
  60 seconds and is spent by one atomic `take`, so of two concurrent redemptions only one wins.
  After redemption a marker remembers the access token and refresh token family issued from
  it, so a replay revokes them (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from idp.crypto.secrets import digest
from idp.models.uow import UnitOfWork
from idp.services.signin.session_clients import record_session_client
from idp.services.signin.sessions import SessionView
from idp.services.tokens.claims import ClaimsRequest
from idp.stores import ShortLivedStore

CODE_LIFETIME = 60
TRANSACTION_LIFETIME = 600
MAX_TRANSACTION_ID = 64


@dataclass(frozen=True)
class AuthorizationRequest:
    """A request whose client and redirect URI are known good and whose parameters are valid."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    response_mode: str
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    # OIDC Core §3.1.2.1 hints: the e-mail address to sign in with (normalised), and the `sub`
    # of a verified id_token_hint, which the signed-in person must be.
    login_hint: str | None = None
    expected_subject: str | None = None
    ui_locale: str | None = None  # the first of `ui_locales` we support
    claims: ClaimsRequest = field(default_factory=ClaimsRequest)
    acr_values: tuple[str, ...] = ()  # OIDC Core §3.1.2.1, in order of preference
    # Ours (issue 11 §2): the slug of the upstream provider to send the person to at once.
    idp_hint: str | None = None


@dataclass(frozen=True)
class Transaction:
    id: str
    request: AuthorizationRequest
    # A sign-in older than this (epoch seconds) does not count: prompt=login, max_age, a
    # session of someone other than the hints name, or "Use another account".
    login_after: float | None = None
    # The sid of the session that approved the consent page for this request, if one did.
    consented_sid: str | None = None
    # prompt=select_account was answered on the chooser, or by signing in during this request.
    account_chosen: bool = False


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    subject: str
    sid: str
    auth_time: int
    amr: tuple[str, ...]
    code_challenge: str | None = None
    nonce: str | None = None
    issued_at: float = field(default_factory=time.time)
    claims: ClaimsRequest = field(default_factory=ClaimsRequest)


def _request_from(data: dict[str, Any]) -> AuthorizationRequest:
    data = dict(data)
    data["scopes"] = tuple(data["scopes"])
    data["prompt"] = tuple(data["prompt"])
    data["acr_values"] = tuple(data.get("acr_values", ()))
    data["claims"] = ClaimsRequest.of(data.get("claims"))
    return AuthorizationRequest(**data)


class Transactions:
    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant_id: int, transaction_id: str) -> str:
        return f"authz-txn:{tenant_id}:{transaction_id}"

    def begin(
        self, tenant_id: int, request: AuthorizationRequest, login_after: float | None
    ) -> Transaction:
        return self._save(tenant_id, Transaction(secrets.token_urlsafe(24), request, login_after))

    def find(self, tenant_id: int, transaction_id: str) -> Transaction | None:
        if not transaction_id or len(transaction_id) > MAX_TRANSACTION_ID:
            return None
        raw = self._store.get(self._key(tenant_id, transaction_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return Transaction(
            data["id"],
            _request_from(data["request"]),
            data["login_after"],
            data["consented_sid"],
            data.get("account_chosen", False),
        )

    def consented(self, tenant_id: int, transaction: Transaction, sid: str) -> Transaction:
        """The transaction as saved, with the consent of the session `sid` recorded."""
        return self._save(tenant_id, replace(transaction, consented_sid=sid))

    def choose_account(
        self, tenant_id: int, transaction: Transaction, another: bool
    ) -> Transaction:
        """The account chooser was answered, or made moot by a sign-in; `another` ("Use another
        account") asks for a sign-in newer than now, which replaces the browser's session.
        Returns the transaction as saved."""
        login_after = time.time() if another else transaction.login_after
        chosen = replace(transaction, account_chosen=True, login_after=login_after)
        return self._save(tenant_id, chosen)

    def finish(self, tenant_id: int, transaction_id: str) -> bool:
        """Spend the transaction: True for the one caller that did (a double submit loses)."""
        return self._store.take(self._key(tenant_id, transaction_id)) is not None

    def _save(self, tenant_id: int, transaction: Transaction) -> Transaction:
        raw = json.dumps(asdict(transaction), separators=(",", ":"))
        self._store.put(self._key(tenant_id, transaction.id), raw, TRANSACTION_LIFETIME)
        return transaction


class Codes:
    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(kind: str, tenant_id: int, code: str) -> str:
        # Only the digest is a key: a code never sits in Redis or the store table in clear.
        return f"{kind}:{tenant_id}:{digest(code)}"

    def issue(self, tenant_id: int, bound: AuthorizationCode) -> str:
        code = secrets.token_urlsafe(32)  # 256 bits, opaque
        raw = json.dumps(asdict(bound), separators=(",", ":"))
        self._store.put(self._key("authz-code", tenant_id, code), raw, CODE_LIFETIME)
        return code

    def redeem(self, tenant_id: int, code: str) -> AuthorizationCode | None:
        """The code's binding, once: a second call for the same code gets None."""
        raw = self._store.take(self._key("authz-code", tenant_id, code))
        if raw is None:
            return None
        data = json.loads(raw)
        data["scopes"] = tuple(data["scopes"])
        data["amr"] = tuple(data["amr"])
        data["claims"] = ClaimsRequest.of(data.get("claims"))
        bound = AuthorizationCode(**data)
        if time.time() - bound.issued_at > CODE_LIFETIME:  # the store's TTL, double-checked
            return None
        return bound

    def remember_tokens(
        self,
        tenant_id: int,
        code: str,
        claims: dict[str, Any],
        family: str | None = None,
        family_expires_at: float = 0.0,
    ) -> None:
        """Remember the access token issued from `code`, and the refresh token family if one
        was, until both have expired, for `replayed`."""
        ttl = max(1.0, max(float(claims["exp"]), family_expires_at) - time.time())
        marker = json.dumps({"jti": claims["jti"], "exp": claims["exp"], "family": family})
        self._store.put(self._key("authz-code-used", tenant_id, code), marker, ttl)

    def replayed(self, tenant_id: int, code: str) -> dict[str, Any] | None:
        """The `jti`/`exp` (and refresh `family`, or None) of what a spent code was exchanged
        for, once, or None."""
        raw = self._store.take(self._key("authz-code-used", tenant_id, code))
        return json.loads(raw) if raw else None


SELECT_ACCOUNT = "select_account"
LOGIN = "login"
SECOND_FACTOR = "mfa"
CONSENT = "consent"
ISSUE = "issue"


def issue_code_for_session(
    uow: UnitOfWork,
    store: ShortLivedStore,
    tenant_id: int,
    session: SessionView,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...],
    code_challenge: str | None,
    claims: ClaimsRequest,
    nonce: str | None = None,
) -> str:
    """A single-use code bound to the session's sign-in (subject, sid, auth_time, amr), and the
    client recorded among the session's clients (for logout). The authorization endpoint and the
    challenge endpoint both end here; `claims` carries the request's acr_values to the ID token."""
    code = Codes(store).issue(
        tenant_id,
        AuthorizationCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            subject=session.subject,
            sid=session.sid,
            auth_time=int(session.auth_time.timestamp()),
            amr=session.amr,
            code_challenge=code_challenge,
            nonce=nonce,
            claims=claims,
        ),
    )
    record_session_client(uow, tenant_id, session.sid, client_id)
    return code


def next_step(
    request: AuthorizationRequest,
    auth_time: float | None,
    login_after: float | None,
    consent_given: bool,
    account_chosen: bool = False,
    second_factor_due: bool = False,
) -> str:
    """What the request needs before a code can be issued: SELECT_ACCOUNT, LOGIN,
    SECOND_FACTOR, CONSENT or ISSUE.

    `auth_time` is the session's (None: not signed in); `login_after` is set when the request
    demands a sign-in newer than that (prompt=login, or max_age exceeded: OIDC Core §3.1.2.1).
    The account chooser comes first: continuing as someone may still need a fresh sign-in.
    `second_factor_due` (services.factors.policy) puts the second factor after the first,
    whatever the first was, and before consent (issue 10 §4).
    """
    if "select_account" in request.prompt and auth_time is not None and not account_chosen:
        return SELECT_ACCOUNT
    if auth_time is None or (login_after is not None and auth_time < login_after):
        return LOGIN
    if second_factor_due:
        return SECOND_FACTOR
    if not consent_given:
        return CONSENT
    return ISSUE


def login_after(request: AuthorizationRequest, auth_time: float | None, now: float) -> float | None:
    """The moment a sign-in must be newer than, for prompt=login and max_age."""
    if "login" in request.prompt:
        return now
    if request.max_age is not None and auth_time is not None and now - auth_time > request.max_age:
        return now
    return None
