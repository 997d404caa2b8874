"""A person manages their own second factors (issue 10 §1): confirming a new authenticator,
a new set of recovery codes, switching two-step sign-in off. Each change is audited.

Confirming counts as the session's second factor: the person just proved they hold the
authenticator, in a session their first factor opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.crypto.kek import Kek
from idp.models.uow import UnitOfWork
from idp.services.audit import AuditEntry, record_event
from idp.services.factors import recovery_codes, totp
from idp.services.factors.policy import OTP
from idp.services.factors.second_step import SteppedUp, record_method
from idp.services.signin.sessions import Attempt, SessionView


@dataclass(frozen=True)
class Confirmed:
    """A confirmed authenticator: the recovery codes to show once, and the session after it
    (None when it ended meanwhile)."""

    recovery_codes: list[str]
    session: SteppedUp | None


@dataclass(frozen=True)
class FactorStatus:
    """What the account page says about a person's second factors."""

    totp: bool
    recovery_codes_left: int


def factor_status(uow: UnitOfWork, tenant_id: int, user_id: int) -> FactorStatus:
    return FactorStatus(
        totp.is_enrolled(uow, tenant_id, user_id),
        recovery_codes.remaining(uow, tenant_id, user_id),
    )


def confirm_authenticator(
    uow: UnitOfWork, kek: Kek, tenant_id: int, session: SessionView, code: str, attempt: Attempt
) -> Confirmed | None:
    """Confirm the pending authenticator with its first code; None when it was not right."""
    if not totp.confirm_enrolment(uow, kek, tenant_id, session.user_id, code):
        return None
    stepped = record_method(uow, tenant_id, session.sid, OTP)
    codes = recovery_codes.issue_codes(uow, tenant_id, session.user_id)
    _audit(uow, tenant_id, session, attempt, "user.totp_enrolled")
    return Confirmed(codes, stepped)


def regenerate_codes(
    uow: UnitOfWork, tenant_id: int, session: SessionView, attempt: Attempt
) -> list[str]:
    """A new set of recovery codes; the old ones stop working now."""
    codes = recovery_codes.issue_codes(uow, tenant_id, session.user_id)
    _audit(uow, tenant_id, session, attempt, "user.recovery_codes_regenerated")
    return codes


def switch_off(uow: UnitOfWork, tenant_id: int, session: SessionView, attempt: Attempt) -> None:
    """Remove the authenticator and the recovery codes that back it up."""
    totp.remove(uow, tenant_id, session.user_id)
    recovery_codes.remove_codes(uow, tenant_id, session.user_id)
    _audit(uow, tenant_id, session, attempt, "user.totp_removed")


def _audit(
    uow: UnitOfWork, tenant_id: int, session: SessionView, attempt: Attempt, action: str
) -> None:
    record_event(
        uow,
        AuditEntry(
            action=action,
            actor=f"user:{session.subject}",
            tenant_id=tenant_id,
            target_type="user",
            target_id=session.subject,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
        ),
    )
