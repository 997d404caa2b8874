"""The second step of a sign-in (issue 10 §1, §4): a TOTP or recovery code typed after the
first factor, throttled per account, audited, and recorded in the session's `amr`.

The session was opened by the first factor and stays the same session (same sid and
auth_time, OIDC Core §2: auth_time is when authentication began); its methods grow, and it
gets a new cookie: a copy of the old one, taken while only the first factor was given, is
worthless once the second has been (OWASP ASVS V3.2.1, as at sign-in). A
session that lacks a due second factor is held at the /mfa page by the authorization
endpoint and by the account page, so the first factor alone reaches no client.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from idp.crypto.kek import Kek
from idp.crypto.secrets import digest
from idp.models.sessions import LoginSession
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.audit import DENIED, FAILED, SUCCESS, AuditEntry, record_event
from idp.services.factors import passkeys, recovery_codes, totp
from idp.services.factors.policy import (
    MFA,
    OTP,
    POLICY_OPTIONAL,
    RECOVERY,
    amr_with,
    second_factor_due,
)
from idp.services.factors.throttle import FactorThrottle
from idp.services.signin.lockout import Lockout
from idp.services.signin.sessions import Attempt, SessionView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.claims import PHISHING_RESISTANT_ACR


class CodeRefused(Exception):
    """A wrong, replayed or expired code; `wait` > 0: throttled, nothing was checked."""

    def __init__(self, wait: int = 0) -> None:
        super().__init__("code refused")
        self.wait = wait


@dataclass(frozen=True)
class SteppedUp:
    """The session after its second factor: its methods, and its new cookie (the only time
    it exists in clear) with the seconds the session has left."""

    amr: tuple[str, ...]
    cookie: str
    max_age: int


@dataclass(frozen=True)
class Verifier:
    """What checking a code needs: the KEK for seeds, the throttle of wrong codes, and the
    sign-in lockout every method shares (issue 10 §5: failures per account and per address)."""

    kek: Kek
    throttle: FactorThrottle
    lockout: Lockout


def verify_second_factor(
    uow: UnitOfWork,
    verifier: Verifier,
    tenant: TenantView,
    session: SessionView,
    code: str,
    attempt: Attempt,
) -> SteppedUp | None:
    """Check `code` (TOTP, or a recovery code by its prefix) and record the method in the
    session (None: the session ended meanwhile). Raises CodeRefused."""
    tenant_id, user_id = tenant.id, session.user_id
    with uow:
        user = uow.session.get(User, user_id)
        account = user.email if user is not None else session.subject
    wait = max(
        verifier.throttle.wait(tenant_id, user_id),
        verifier.lockout.retry_after(tenant, account, attempt.ip) or 0,
    )
    if wait:
        _audit(uow, tenant_id, session, attempt, None, DENIED, "throttled")
        raise CodeRefused(wait)
    looks_recovery = recovery_codes.looks_like_code(code)
    if looks_recovery:
        method = RECOVERY if recovery_codes.use_code(uow, tenant_id, user_id, code) else None
    else:
        ok = totp.verify_code(uow, verifier.kek, tenant_id, user_id, code)
        method = OTP if ok else None
    if method is None:
        verifier.throttle.record_failure(tenant_id, user_id)
        verifier.lockout.record_failure(
            tenant, account, attempt.ip, "recovery_code" if looks_recovery else "totp"
        )
        _audit(uow, tenant_id, session, attempt, None, FAILED, "wrong code")
        raise CodeRefused()
    verifier.throttle.clear(tenant_id, user_id)
    verifier.lockout.record_success(tenant, account)
    stepped = record_method(uow, tenant_id, session.sid, method)
    _audit(uow, tenant_id, session, attempt, method, SUCCESS, None)
    return stepped


def record_method(uow: UnitOfWork, tenant_id: int, sid: str, method: str) -> SteppedUp | None:
    """Add `method` to the session's `amr` (with `mfa` when two kinds were used) and give the
    session a new cookie; None when the session ended meanwhile."""
    with uow:
        login = uow.session.scalar(
            select(LoginSession).where(LoginSession.tenant_id == tenant_id, LoginSession.sid == sid)
        )
        if login is None:
            return None
        amr = amr_with(tuple(login.amr), method)
        cookie = secrets.token_urlsafe(32)
        login.amr = list(amr)
        login.cookie_digest = digest(cookie)
        left = (login.expires_at - datetime.now(UTC)).total_seconds()
        uow.commit()
        return SteppedUp(amr, cookie, max(1, int(left)))


def _audit(
    uow: UnitOfWork,
    tenant_id: int,
    session: SessionView,
    attempt: Attempt,
    method: str | None,
    outcome: str,
    reason: str | None,
) -> None:
    details: dict[str, str | None] = {"method": method, "client_id": attempt.client_id}
    if reason:
        details["reason"] = reason
    if attempt.via:
        details["via"] = attempt.via
    record_event(
        uow,
        AuditEntry(
            action="user.second_factor",
            actor=f"user:{session.subject}",
            tenant_id=tenant_id,
            target_type="user",
            target_id=session.subject,
            outcome=outcome,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
            details=details,
        ),
    )


def second_factor_pending(
    uow: UnitOfWork,
    tenant_id: int,
    policy: str,
    session: SessionView,
    demanded: bool | str = False,
) -> bool:
    """Whether this session must still give a second factor (policy.second_factor_due), looking
    up the person's enrolment only when the answer depends on it. `demanded`: the acr the
    request demands (policy.demanded_acr), or True for the MFA acr."""
    if MFA in session.amr and demanded != PHISHING_RESISTANT_ACR:
        return False
    enrolled = policy == POLICY_OPTIONAL and (
        totp.is_enrolled(uow, tenant_id, session.user_id)
        or passkeys.has_passkeys(uow, tenant_id, session.user_id)
    )
    return second_factor_due(policy, enrolled, session.amr, demanded)
