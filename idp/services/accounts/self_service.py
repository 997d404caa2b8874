"""What every change a person makes on the account page shares: proving it is them again
(the current password, throttled as a sign-in is) and an audit event in their name."""

from __future__ import annotations

from typing import Any

from idp.crypto.passwords import Passwords
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.password_reset import Attempt, WrongPassword
from idp.services.accounts.users import MAX_PASSWORD
from idp.services.audit import SUCCESS, AuditEntry, record_event
from idp.services.errors import NotFound
from idp.services.signin.sessions import LoginThrottle, SessionView
from idp.services.tenancy.tenants import TenantView


def verify_current_password(
    uow: UnitOfWork,
    passwords: Passwords,
    throttle: LoginThrottle,
    tenant: TenantView,
    user_id: int,
    current: str,
    ip: str,
) -> None:
    """Raises WrongPassword (throttled past the sign-in limits): a session left open on a
    shared computer is not enough to take the account away (e-mail change, deletion)."""
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


def audit_account_change(
    uow: UnitOfWork,
    tenant: TenantView,
    action: str,
    subject: str,
    attempt: Attempt,
    details: dict[str, Any] | None = None,
) -> None:
    record_event(
        uow,
        AuditEntry(
            action=action,
            actor=f"user:{subject}",
            tenant_id=tenant.id,
            target_type="user",
            target_id=subject,
            outcome=SUCCESS,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
            details=details or {},
        ),
    )


def owner_of(uow: UnitOfWork, tenant: TenantView, session: SessionView) -> User:
    """The person the session is for, in the caller's transaction; NotFound once deleted."""
    user = uow.session.get(User, session.user_id)
    if user is None or user.tenant_id != tenant.id:
        raise NotFound("the account is gone")
    return user
