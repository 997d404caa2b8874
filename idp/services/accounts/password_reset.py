"""Forgotten passwords (issue 9 §4) and changed ones (§5).

A reset starts from an address typed by anyone: every address gets the same answer and the same
throttling (counted per address whether or not it has an account, DESIGN §7), and only an
active account gets the mail, with a one-time link (30 minutes, voided by a newer one and by
use, services/accounts/one_time_links.py). Completing a reset, or changing the password on the
account page, voids what the old password let anyone obtain: every session (but the one that
changed it, for a change), every refresh token and every access token of the person, recorded in
the database (DESIGN §3); and the person is told by mail, so a change they did not make does
not go unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from idp.crypto.passwords import Passwords
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.one_time_links import RESET_PASSWORD, issue_link, peek_link, take_link
from idp.services.accounts.users import (
    MAX_PASSWORD,
    UserView,
    check_password,
    normalise_email,
    sign_out_everywhere,
)
from idp.services.audit import SUCCESS, AuditEntry, record_event
from idp.services.errors import NotFound
from idp.services.mail import Mailer
from idp.services.rate_limits import AddressThrottle
from idp.services.signin.session_clients import LogoutQueue
from idp.services.signin.sessions import LoginThrottle, SessionView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.revocations import Revocations
from idp.settings import RateLimitSettings, TokenSettings
from idp.stores import ShortLivedStore

RESET_MAIL = "password_reset"
CHANGED_MAIL = "password_changed"


@dataclass(frozen=True)
class Attempt:
    """Where a request comes from (audit, throttling) and the authorization request it is
    part of (`txn`, carried in the link so the person ends back at that client)."""

    ip: str
    request_id: str | None = None
    txn: str = ""


@dataclass(frozen=True)
class Accounts:
    """What ending a person's access takes; one per process (services/container.py parts)."""

    passwords: Passwords
    mailer: Mailer
    revocations: Revocations
    backchannel: LogoutQueue
    tokens: TokenSettings


class ResetThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many password reset requests")
        self.retry_after = retry_after


class LinkGone(Exception):
    """The reset link is unknown, used, voided by a newer one, expired or forged."""


class WrongPassword(Exception):
    def __init__(self, throttled: bool = False) -> None:
        super().__init__("current password refused")
        self.throttled = throttled


class ResetThrottle(AddressThrottle):
    """Reset requests per address (known or not) and per client IP."""

    def __init__(self, store: ShortLivedStore, limits: RateLimitSettings) -> None:
        super().__init__(
            store,
            "pwreset",
            limits.password_resets_per_address,
            limits.password_resets_per_ip,
            limits.password_reset_window_seconds,
        )


def request_reset(
    uow: UnitOfWork,
    mailer: Mailer,
    throttle: ResetThrottle,
    tenant: TenantView,
    email: str,
    attempt: Attempt,
) -> None:
    """Mail a reset link if `email` names an active account; the same outcome otherwise.

    Raises InvalidInput for an address that is not one (says nothing about accounts) and
    ResetThrottled past either limit (counted before the lookup, so equally for everyone).
    """
    email = normalise_email(email)
    retry_after = throttle.hit(tenant.id, email, attempt.ip)
    if retry_after is not None:
        raise ResetThrottled(retry_after)
    with uow:
        user = uow.users.by_email(tenant.id, email)
        subject = user.subject if user is not None and user.active else None
        if user is not None and subject is not None:
            _queue_reset_mail(uow, mailer, tenant, user, attempt.txn)
            uow.commit()
    if subject is not None:
        mailer.wake()
    _audit(uow, tenant, "user.password_reset_requested", subject, attempt, "anonymous")


def send_reset(uow: UnitOfWork, mailer: Mailer, tenant: TenantView, subject: str) -> int:
    """An admin's reset (management API, `idp users reset-password`): the same mail, for a
    known user; returns the mail's job id, committed: the caller wakes the mailer (a server)
    or makes the first attempt itself (a command). Raises NotFound. The caller audits its
    actor."""
    with uow:
        user = uow.users.by_subject(tenant.id, subject)
        if user is None:
            raise NotFound(f"no user '{subject}' in '{tenant.slug}'")
        job_id = _queue_reset_mail(uow, mailer, tenant, user, "")
        uow.commit()
    return job_id


def _queue_reset_mail(
    uow: UnitOfWork, mailer: Mailer, tenant: TenantView, user: User, txn: str
) -> int:
    token = issue_link(uow, tenant.id, user.id, RESET_PASSWORD, {"txn": txn} if txn else {})
    link = f"{mailer.issuer(tenant)}/password/reset?{urlencode({'token': token})}"
    return mailer.queue(uow.session, tenant, user.email, RESET_MAIL, {"reset_url": link}).job_id


def reset_link_txn(uow: UnitOfWork, tenant: TenantView, token: str) -> str | None:
    """The link's authorization request ("" for none) while it is live, else None; spends
    nothing (the page that shows the form)."""
    with uow:
        link = peek_link(uow, tenant.id, RESET_PASSWORD, token)
    return None if link is None else str(link.payload.get("txn", ""))


def complete_reset(
    uow: UnitOfWork,
    accounts: Accounts,
    tenant: TenantView,
    token: str,
    new_password: str,
    attempt: Attempt,
) -> str:
    """Void every session and token of the person, then set the new password through the link.
    Returns the link's `txn`. Raises InvalidInput (the link stays live) or LinkGone.

    The revocations are recorded (durably, DESIGN §3) before the password changes: a crash in
    between leaves the old password and the link in place for a retry, never a new password
    with the old sessions still alive.
    """
    with uow:
        live = peek_link(uow, tenant.id, RESET_PASSWORD, token)
        owner = uow.session.get(User, live.user_id) if live is not None else None
        if live is None or owner is None or owner.tenant_id != tenant.id or not owner.active:
            raise LinkGone()
        subject = owner.subject
        check_password(new_password, tenant.password_min_length, _own_words(owner))
    _end_access(uow, accounts, tenant, subject, keep_sid=None)
    with uow:
        link = take_link(uow, tenant.id, RESET_PASSWORD, token)
        user = uow.session.get(User, link.user_id) if link is not None else None
        if link is None or user is None or user.subject != subject:
            raise LinkGone()  # spent by a concurrent request meanwhile
        user.password_hash = accounts.passwords.hash(new_password)
        txn = str(link.payload.get("txn", ""))
        _queue_changed_mail(uow, accounts.mailer, tenant, user)
        uow.commit()
    accounts.mailer.wake()
    _audit(uow, tenant, "user.password_reset", subject, attempt, f"user:{subject}")
    return txn


def change_password(
    uow: UnitOfWork,
    accounts: Accounts,
    throttle: LoginThrottle,
    tenant: TenantView,
    session: SessionView,
    current: str,
    new_password: str,
    attempt: Attempt,
) -> None:
    """The signed-in person changes their password: the current one is checked (and throttled
    as a sign-in is), every other session ends and every token is revoked; this session stays.
    Raises WrongPassword or InvalidInput."""
    user = verify_current_password(
        uow, accounts.passwords, throttle, tenant, session.user_id, current, attempt.ip
    )
    check_password(new_password, tenant.password_min_length, _own_words(user))
    # Revocations first, as for a reset: a crash after them leaves the old password, not the
    # new one with the other sessions alive.
    _end_access(uow, accounts, tenant, session.subject, keep_sid=session.sid)
    with uow:
        user = uow.session.get(User, session.user_id)
        if user is None:
            raise WrongPassword()
        user.password_hash = accounts.passwords.hash(new_password)
        _queue_changed_mail(uow, accounts.mailer, tenant, user)
        uow.commit()
    accounts.mailer.wake()
    _audit(uow, tenant, "user.password_change", session.subject, attempt, f"user:{session.subject}")


def _own_words(user: User | UserView) -> list[str]:
    return [user.email, user.name or "", user.given_name or "", user.family_name or ""]


def verify_current_password(
    uow: UnitOfWork,
    passwords: Passwords,
    throttle: LoginThrottle,
    tenant: TenantView,
    user_id: int,
    current: str,
    ip: str,
) -> UserView:
    """The signed-in person proves it is them again (password change, e-mail change, account
    deletion): a session left open on a shared computer is not enough. Counted and throttled
    as a sign-in is. Returns the person as read. Raises WrongPassword."""
    with uow:
        user = uow.session.get(User, user_id)
        if user is None or user.tenant_id != tenant.id:
            raise WrongPassword()
        if throttle.blocked(tenant, user.email, ip):
            raise WrongPassword(throttled=True)
        stored = user.password_hash
        if stored is None or len(current) > MAX_PASSWORD or not passwords.verify(stored, current):
            throttle.record_failure(tenant, user.email, ip)
            raise WrongPassword()
        throttle.record_success(tenant, user.email)
        return UserView.of(user)


def _queue_changed_mail(uow: UnitOfWork, mailer: Mailer, tenant: TenantView, user: User) -> None:
    forgot = f"{mailer.issuer(tenant)}/password/forgot"
    mailer.queue(uow.session, tenant, user.email, CHANGED_MAIL, {"forgot_url": forgot})


def _end_access(
    uow: UnitOfWork, accounts: Accounts, tenant: TenantView, subject: str, keep_sid: str | None
) -> None:
    # Before the new password is committed: each step is recorded in the database and
    # idempotent (users.sign_out_everywhere), so a retry after a crash simply repeats it.
    sign_out_everywhere(
        uow,
        accounts.revocations,
        accounts.backchannel,
        accounts.mailer.issuer(tenant),
        tenant,
        subject,
        accounts.tokens,
        keep_sid=keep_sid,
    )


def _audit(
    uow: UnitOfWork,
    tenant: TenantView,
    action: str,
    subject: str | None,
    attempt: Attempt,
    actor: str,
) -> None:
    record_event(
        uow,
        AuditEntry(
            action=action,
            actor=actor,
            tenant_id=tenant.id,
            target_type="user" if subject else None,
            target_id=subject,
            outcome=SUCCESS,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
        ),
    )
