"""Signing in with a passkey (issue 10 §2): with no password and no e-mail typed (a
discoverable credential names its owner), or as the second factor after a password.

Each attempt is audited like the password's (`user.sign_in` / `user.second_factor`, method
`passkey`). Failures are counted: without a known person, against the client IP in the login
throttle that the password form uses too (so a run of forged assertions is slowed down like a
run of wrong passwords); as a second factor, in the person's factor throttle with wrong codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.audit import DENIED, FAILED, SUCCESS, AuditEntry, record_event
from idp.services.factors.passkeys import PasskeyRefused, RelyingParty, verify_assertion
from idp.services.factors.policy import amr_with
from idp.services.factors.second_step import SteppedUp, Verifier, record_method
from idp.services.signin.sessions import (
    Attempt,
    LoginThrottle,
    SessionView,
    SignedIn,
    audit_refused_sign_in,
    open_session,
)
from idp.services.tenancy.tenants import TenantView

PASSKEY = "passkey"
# The login throttle counts per account e-mail and per IP. An assertion names no account before
# it verifies, so its failures count against the IP alone (the account key is the IP's own):
# a fixed key shared by everyone would let one stranger block every passkey sign-in.
NO_ACCOUNT = "passkey:"


class Throttled(PasskeyRefused):
    """Too many failures from this source: nothing was checked."""


@dataclass(frozen=True)
class PasskeyCeremony:
    """What one verification needs: the relying party and the challenge the store gave back."""

    rp: RelyingParty
    challenge: bytes
    credential: str


def sign_in_with_passkey(
    uow: UnitOfWork,
    tenant: TenantView,
    ceremony: PasskeyCeremony,
    throttle: LoginThrottle,
    previous_cookie: str | None,
    attempt: Attempt,
) -> SignedIn:
    """A new session for the passkey's owner, replacing the browser's; PasskeyRefused."""
    if throttle.blocked(tenant, NO_ACCOUNT + attempt.ip, attempt.ip):
        audit_refused_sign_in(uow, tenant, attempt, None, DENIED, "throttled", PASSKEY)
        raise Throttled("throttled")
    try:
        asserted = verify_assertion(
            uow, ceremony.rp, tenant.id, ceremony.credential, ceremony.challenge
        )
        with uow:
            user = uow.session.get(User, asserted.user_id)
            if user is None or not user.active:
                raise PasskeyRefused("inactive account")
            if not user.email_verified and not tenant.unverified_sign_in:
                raise PasskeyRefused("e-mail address not verified")
            methods = reduce(amr_with, asserted.amr, ())
            view = open_session(uow, tenant, user, methods, previous_cookie, attempt, PASSKEY)
    except PasskeyRefused as refused:
        throttle.record_failure(tenant, NO_ACCOUNT + attempt.ip, attempt.ip, PASSKEY)
        reason = str(refused)[:200]
        audit_refused_sign_in(uow, tenant, attempt, None, FAILED, reason, PASSKEY)
        raise
    return SignedIn(view[0], view[1], tenant.session_lifetime)


def second_factor_with_passkey(
    uow: UnitOfWork,
    tenant: TenantView,
    ceremony: PasskeyCeremony,
    verifier: Verifier,
    session: SessionView,
    attempt: Attempt,
) -> SteppedUp | None:
    """Record the passkey's methods in the session opened by the first factor (None: the
    session ended meanwhile); PasskeyRefused."""
    tenant_id = tenant.id
    with uow:
        user = uow.session.get(User, session.user_id)
        account = user.email if user is not None else session.subject
    if verifier.throttle.wait(tenant_id, session.user_id) or verifier.lockout.blocked(
        tenant, account, attempt.ip
    ):
        _audit_second_factor(uow, tenant_id, attempt, session.subject, DENIED, "throttled")
        raise Throttled("throttled")
    try:
        asserted = verify_assertion(
            uow, ceremony.rp, tenant_id, ceremony.credential, ceremony.challenge, session.user_id
        )
    except PasskeyRefused as refused:
        verifier.throttle.record_failure(tenant_id, session.user_id)
        verifier.lockout.record_failure(tenant, account, attempt.ip, PASSKEY)
        reason = str(refused)[:200]
        _audit_second_factor(uow, tenant_id, attempt, session.subject, FAILED, reason)
        raise
    verifier.throttle.clear(tenant_id, session.user_id)
    verifier.lockout.record_success(tenant, account)
    stepped = None
    for method in asserted.amr:
        stepped = record_method(uow, tenant_id, session.sid, method)
    _audit_second_factor(uow, tenant_id, attempt, session.subject, SUCCESS, None)
    return stepped


def _audit_second_factor(
    uow: UnitOfWork,
    tenant_id: int,
    attempt: Attempt,
    subject: str | None,
    outcome: str,
    reason: str | None,
) -> None:
    details: dict[str, str | None] = {"method": PASSKEY, "client_id": attempt.client_id}
    if reason:
        details["reason"] = reason
    record_event(
        uow,
        AuditEntry(
            action="user.second_factor",
            actor=f"user:{subject}" if subject else "anonymous",
            tenant_id=tenant_id,
            target_type="user" if subject else None,
            target_id=subject,
            outcome=outcome,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
            details=details,
        ),
    )
