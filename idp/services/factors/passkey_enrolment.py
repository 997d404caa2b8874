"""A person adds and removes their own passkeys on the account page (issue 10 §2); each change
is audited, as TOTP's are (enrolment.py).

Adding one counts as the session's second factor, as confirming a TOTP authenticator does:
the person just used the passkey, in a session their first factor opened.
"""

from __future__ import annotations

from idp.models.uow import UnitOfWork
from idp.services.audit import AuditEntry, record_event
from idp.services.factors import passkeys
from idp.services.factors.passkey_use import PasskeyCeremony
from idp.services.factors.second_step import SteppedUp, record_method
from idp.services.signin.sessions import Attempt, SessionView


def add_passkey(
    uow: UnitOfWork,
    ceremony: PasskeyCeremony,
    tenant_id: int,
    session: SessionView,
    name: str,
    attempt: Attempt,
) -> SteppedUp | None:
    """Verify the new credential and keep it under `name`; the session after it (None when
    it ended meanwhile). Raises PasskeyRefused."""
    added = passkeys.register(
        uow, ceremony.rp, tenant_id, session.user_id, name, ceremony.credential, ceremony.challenge
    )
    _audit(uow, tenant_id, session, attempt, "user.passkey_added", added.id)
    stepped = None
    for method in added.amr:
        stepped = record_method(uow, tenant_id, session.sid, method)
    return stepped


def remove_own_passkey(
    uow: UnitOfWork, tenant_id: int, session: SessionView, passkey_id: int, attempt: Attempt
) -> bool:
    """True when the person had that passkey and it is gone."""
    removed = passkeys.remove_passkey(uow, tenant_id, session.user_id, passkey_id)
    if removed:
        _audit(uow, tenant_id, session, attempt, "user.passkey_removed", passkey_id)
    return removed


def _audit(
    uow: UnitOfWork,
    tenant_id: int,
    session: SessionView,
    attempt: Attempt,
    action: str,
    passkey_id: int,
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
            details={"passkey_id": passkey_id},
        ),
    )
