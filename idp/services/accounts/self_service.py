"""What every change a person makes on the account page shares: the account of the session,
and an audit event in their name. (Proving it is them again is password_reset's
`verify_current_password`, shared with the password change.)"""

from __future__ import annotations

from typing import Any

from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.password_reset import Attempt
from idp.services.audit import SUCCESS, AuditEntry, record_event
from idp.services.errors import NotFound
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.tenants import TenantView


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
