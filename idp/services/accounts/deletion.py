"""A person deletes their own account, where the tenant allows it (`account_deletion`, issue
9 §6). It takes the current password. Everything the account let anyone obtain ends first,
recorded durably as for a sign-out everywhere (DESIGN §3): every session (with the logout
tokens their clients are owed), every refresh and access token; then the user row goes, and
its consents, picture and one-time links with it (ON DELETE CASCADE).
"""

from __future__ import annotations

from idp.models.uow import UnitOfWork
from idp.services.accounts.password_reset import Accounts, Attempt, verify_current_password
from idp.services.accounts.self_service import audit_account_change
from idp.services.accounts.users import delete_user, sign_out_everywhere
from idp.services.signin.sessions import LoginThrottle, SessionView
from idp.services.tenancy.tenants import TenantView


class DeletionNotAllowed(Exception):
    """The tenant does not let people delete their own accounts."""


def delete_own_account(
    uow: UnitOfWork,
    accounts: Accounts,
    throttle: LoginThrottle,
    tenant: TenantView,
    session: SessionView,
    current_password: str,
    attempt: Attempt,
) -> None:
    """Raises DeletionNotAllowed or WrongPassword; otherwise the account is gone."""
    if not tenant.account_deletion:
        raise DeletionNotAllowed()
    verify_current_password(
        uow, accounts.passwords, throttle, tenant, session.user_id, current_password, attempt.ip
    )
    sign_out_everywhere(
        uow,
        accounts.revocations,
        accounts.backchannel,
        accounts.mailer.issuer(tenant),
        tenant,
        session.subject,
        accounts.tokens,
    )
    delete_user(uow, tenant, session.subject)
    audit_account_change(uow, tenant, "user.delete", session.subject, attempt)
