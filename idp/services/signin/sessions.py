"""Login sessions: password sign-in at the hosted login page, session lookup (the lockout
that throttles sign-in is lockout.py; `LoginThrottle` is still importable from here).

The browser holds a random session id (256 bits) in a cookie; the database holds its SHA-256
digest (DESIGN §6), the user, `auth_time` and `amr`. Signing in always makes a new id and
deletes the one the browser had, so an id planted before sign-in is worthless after it
(session fixation, OWASP ASVS V3.2.1).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from idp.crypto.passwords import Passwords
from idp.crypto.secrets import digest, new_identifier
from idp.models.lookups import SessionLookup
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.users import MAX_PASSWORD, normalise_email
from idp.services.audit import DENIED, FAILED, SUCCESS, AuditEntry, add_event, record_event
from idp.services.errors import InvalidInput
from idp.services.signin.lockout import LoginThrottle
from idp.services.tenancy.tenants import TenantView
from idp.services.tenancy.usage import UsageRecorder

MAX_COOKIE = 128
USER_AGENT_MAX = 300
IP_MAX = 64
METHOD = "password"  # the audit's method, like the other sign-in methods' METHOD
# How stale "last seen" may be on the account page: a session is written at most once per
# interval, not on every page it opens.
LAST_SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionView:
    sid: str
    user_id: int
    subject: str
    auth_time: datetime
    amr: tuple[str, ...]


@dataclass(frozen=True)
class SignedIn:
    cookie: str  # the only time the session id exists in clear
    session: SessionView
    max_age: int


class SignInRefused(Exception):
    """Wrong password, unknown, inactive or throttled account: one answer for all of them, so the
    page never reveals whether an account exists (DESIGN §7).

    `unverified`: the password was right, but the tenant lets only confirmed addresses sign in
    (policy `unverified_sign_in` false). Only someone who knows the password learns it.
    `throttled`: the account or the address waits (lockout.py), `retry_after` seconds; unknown
    accounts wait exactly as known ones do."""

    def __init__(
        self, throttled: bool = False, unverified: bool = False, retry_after: int | None = None
    ) -> None:
        super().__init__("sign-in refused")
        self.throttled = throttled
        self.unverified = unverified
        self.retry_after = retry_after  # seconds, when throttled


@dataclass(frozen=True)
class Attempt:
    """Where a sign-in comes from, for the audit log and usage analytics (issue 4)."""

    ip: str
    request_id: str | None = None
    client_id: str | None = None  # the client the person is signing in to, if any
    user_agent: str | None = None  # shown on the account page's list of sessions
    # The protocol endpoint a native app signed in through (`authorization_challenge`); None:
    # a hosted page. Audited, so native sign-ins can be told apart.
    via: str | None = None


class SignIn:
    """Password sign-in; `passwords` verifies argon2id hashes and upgrades old ones.

    Every outcome is audited (success, refusal, throttling) and successes are counted in the
    usage analytics. Refusals never record the e-mail typed: it may be a password typed into
    the wrong field, and it would reveal which accounts people try.
    """

    def __init__(
        self, passwords: Passwords, throttle: LoginThrottle, usage: UsageRecorder | None = None
    ) -> None:
        self._passwords = passwords
        self._throttle = throttle
        self._usage = usage

    @cached_property
    def _decoy_hash(self) -> str:
        # Unknown accounts cost one verification too, so timing does not reveal them.
        return self._passwords.hash(secrets.token_urlsafe(16))

    def sign_in(
        self,
        uow: UnitOfWork,
        tenant: TenantView,
        email: str,
        password: str,
        ip: str,
        previous_cookie: str | None,
        attempt: Attempt | None = None,
    ) -> SignedIn:
        attempt = attempt or Attempt(ip)
        try:
            email = normalise_email(email)
        except InvalidInput:
            email = email.strip().lower()[:320]
        retry_after = self._throttle.retry_after(tenant, email, ip)
        if retry_after is not None:
            audit_refused_sign_in(uow, tenant, attempt, None, DENIED, "throttled", METHOD)
            raise SignInRefused(throttled=True, retry_after=retry_after)
        refusal: tuple[str | None, str] | None = None
        unverified = False
        with uow:
            user = uow.users.by_email(tenant.id, email)
            stored = user.password_hash if user and user.password_hash else self._decoy_hash
            verified = len(password) <= MAX_PASSWORD and self._passwords.verify(stored, password)
            if user is None or not user.active or not user.password_hash or not verified:
                self._throttle.record_failure(tenant, email, ip, request_id=attempt.request_id)
                refusal = (None, "unknown account") if user is None else (user.subject, "refused")
            elif not user.email_verified and not tenant.unverified_sign_in:
                refusal, unverified = (user.subject, "e-mail address not verified"), True
            else:
                cookie, view = self._open_session(
                    uow, tenant, user, password, previous_cookie, attempt
                )
        if refusal is not None:
            subject, reason = refusal
            audit_refused_sign_in(uow, tenant, attempt, subject, FAILED, reason, METHOD)
            raise SignInRefused(unverified=unverified)
        self._throttle.record_success(tenant, email)
        if self._usage is not None:
            self._usage.record_sign_in(tenant.id, view.user_id, attempt.client_id)
        return SignedIn(cookie, view, tenant.session_lifetime)

    def _open_session(
        self,
        uow: UnitOfWork,
        tenant: TenantView,
        user: User,
        password: str,
        previous_cookie: str | None,
        attempt: Attempt,
    ) -> tuple[str, SessionView]:
        assert user.password_hash is not None
        if self._passwords.needs_rehash(user.password_hash):
            user.password_hash = self._passwords.hash(password)  # DESIGN §6
        amr = ("pwd",)  # RFC 8176 §2
        return open_session(uow, tenant, user, amr, previous_cookie, attempt, METHOD)


def open_session(
    uow: UnitOfWork,
    tenant: TenantView,
    user: User,
    amr: tuple[str, ...],
    previous_cookie: str | None,
    attempt: Attempt,
    method: str,
) -> tuple[str, SessionView]:
    """A new session for `user` (the only time its id exists in clear), replacing any session
    the browser had, committed with the caller's transaction. Every sign-in method ends here,
    so each one gets the same fresh id (session fixation) and the same lifetime; `amr` says
    how the person proved who they are. Its `user.sign_in` event (`method`) commits with it:
    never a session without its event, nor an event without the session, and no transaction
    of the event's own."""
    add_event(uow, sign_in_event(tenant, attempt, user.subject, SUCCESS, None, method))
    if previous_cookie:
        uow.login_sessions.remove(tenant.id, digest(previous_cookie))
    now = datetime.now(UTC)
    cookie = secrets.token_urlsafe(32)
    sid = new_identifier(16)
    uow.login_sessions.add(
        tenant_id=tenant.id,
        user_id=user.id,
        cookie_digest=digest(cookie),
        sid=sid,
        auth_time=now,
        amr=list(amr),
        expires_at=now + timedelta(seconds=tenant.session_lifetime),
        user_agent=(attempt.user_agent or "")[:USER_AGENT_MAX] or None,
        ip_address=attempt.ip[:IP_MAX],
        last_seen_at=now,
    )
    uow.commit()
    return cookie, SessionView(sid, user.id, user.subject, now, amr)


def audit_refused_sign_in(
    uow: UnitOfWork,
    tenant: TenantView,
    attempt: Attempt,
    subject: str | None,
    outcome: str,
    reason: str,
    method: str,
) -> None:
    """A sign-in that did not happen (failed or denied), whatever the method: `user.sign_in` in
    a transaction of its own. A sign-in that did commits its event with its session
    (`open_session`)."""
    record_event(uow, sign_in_event(tenant, attempt, subject, outcome, reason, method))


def sign_in_event(
    tenant: TenantView,
    attempt: Attempt,
    subject: str | None,
    outcome: str,
    reason: str | None,
    method: str,
) -> AuditEntry:
    """`user.sign_in`: one action to search the audit trail for, whatever the method."""
    details = {"method": method, "client_id": attempt.client_id}
    if reason:
        details["reason"] = reason
    if attempt.via:
        details["via"] = attempt.via
    return AuditEntry(
        action="user.sign_in",
        actor=f"user:{subject}" if outcome == SUCCESS and subject else "anonymous",
        tenant_id=tenant.id,
        target_type="user" if subject else None,
        target_id=subject,
        outcome=outcome,
        client_ip=attempt.ip,
        request_id=attempt.request_id,
        details=details,
    )


def current_session(
    lookup: SessionLookup, tenant: TenantView, cookie: str | None
) -> SessionView | None:
    """The live session the cookie names at this tenant, of a user who is still active; its use
    is recorded at most once per LAST_SEEN_EVERY."""
    if not cookie or len(cookie) > MAX_COOKIE:
        return None
    now = datetime.now(UTC)
    login = lookup.live(tenant.id, digest(cookie), now)
    if login is None or not login.active:
        return None
    if login.last_seen_at is None or now - login.last_seen_at >= LAST_SEEN_EVERY:
        lookup.seen(login.id, now)
    return SessionView(login.sid, login.user_id, login.subject, login.auth_time, tuple(login.amr))


def end_session(uow: UnitOfWork, tenant: TenantView, cookie: str | None) -> None:
    if cookie and len(cookie) <= MAX_COOKIE:
        with uow:
            uow.login_sessions.remove(tenant.id, digest(cookie))
            uow.commit()
