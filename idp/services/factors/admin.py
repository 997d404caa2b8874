"""An administrator sees and removes a person's second factors (issue 10 §4): for the
management API and the `idp users factors` / `idp users reset-mfa` commands, which audit.

Removing the authenticator removes its recovery codes too: they exist to stand in for it, and
a person re-enrolling gets a new set. Nothing secret is ever returned: no seed, no code.
Passkeys are listed one entry each (with their id and name) and removed together by type, or
one by id; resetting MFA removes them too (a lost device is the usual reason for a reset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from idp.models.factors import RecoveryCode, TotpFactor
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.errors import NotFound
from idp.services.factors import passkeys, recovery_codes, totp
from idp.services.tenancy.tenants import TenantView

TOTP = "totp"
RECOVERY_CODES = "recovery_codes"
PASSKEY = "passkey"
FACTOR_TYPES = (TOTP, RECOVERY_CODES, PASSKEY)


@dataclass(frozen=True)
class FactorView:
    type: str
    created_at: datetime
    confirmed: bool = True  # a TOTP authenticator whose first code was typed
    remaining: int | None = None  # unused recovery codes
    passkey: passkeys.PasskeyView | None = None

    def public_dict(self) -> dict[str, object]:
        view: dict[str, object] = {"type": self.type, "created_at": self.created_at.isoformat()}
        if self.passkey is not None:
            view.update(self.passkey.public_dict())
        elif self.type == TOTP:
            view["confirmed"] = self.confirmed
        else:
            view["remaining"] = self.remaining
        return view


def _user_id(uow: UnitOfWork, tenant: TenantView, subject: str) -> int:
    user = uow.session.scalar(
        select(User.id).where(User.tenant_id == tenant.id, User.subject == subject)
    )
    if user is None:
        raise NotFound(f"no user {subject!r}")
    return user


def list_factors(uow: UnitOfWork, tenant: TenantView, subject: str) -> list[FactorView]:
    with uow:
        user_id = _user_id(uow, tenant, subject)
        found: list[FactorView] = []
        factor = uow.session.scalar(select(TotpFactor).where(TotpFactor.user_id == user_id))
        if factor is not None:
            found.append(FactorView(TOTP, factor.created_at, factor.confirmed_at is not None))
        codes = uow.session.scalars(
            select(RecoveryCode).where(RecoveryCode.user_id == user_id)
        ).all()
        if codes:
            left = sum(1 for code in codes if code.used_at is None)
            found.append(FactorView(RECOVERY_CODES, min(c.created_at for c in codes), True, left))
    for passkey in passkeys.list_passkeys(uow, tenant.id, user_id):
        found.append(FactorView(PASSKEY, passkey.created_at, passkey=passkey))
    return found


def remove_factor(uow: UnitOfWork, tenant: TenantView, subject: str, kind: str) -> None:
    """Remove one kind of factor; NotFound when the person or the factor does not exist."""
    if kind not in FACTOR_TYPES:
        raise NotFound(f"no factor type {kind!r}")
    with uow:
        user_id = _user_id(uow, tenant, subject)
    if kind == TOTP:
        removed = totp.remove(uow, tenant.id, user_id)
        recovery_codes.remove_codes(uow, tenant.id, user_id)
    elif kind == PASSKEY:
        removed = passkeys.remove_all(uow, tenant.id, user_id)
    else:
        removed = recovery_codes.remove_codes(uow, tenant.id, user_id)
    if not removed:
        raise NotFound(f"the user has no {kind}")


def reset_mfa(uow: UnitOfWork, tenant: TenantView, subject: str) -> None:
    """Remove every second factor: the person signs in with the first factor alone again,
    or enrols anew where the tenant requires a second factor."""
    with uow:
        user_id = _user_id(uow, tenant, subject)
    totp.remove(uow, tenant.id, user_id)
    recovery_codes.remove_codes(uow, tenant.id, user_id)
    passkeys.remove_all(uow, tenant.id, user_id)


def remove_passkey(uow: UnitOfWork, tenant: TenantView, subject: str, passkey_id: int) -> None:
    """Remove one passkey; NotFound when the person or that passkey of theirs does not exist."""
    with uow:
        user_id = _user_id(uow, tenant, subject)
    if not passkeys.remove_passkey(uow, tenant.id, user_id, passkey_id):
        raise NotFound("the user has no such passkey")
