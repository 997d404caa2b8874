"""TOTP authenticators (RFC 6238, issue 10 §1): enrolment confirmed by a first code, and codes
accepted at most once, within one time step either side of ours.

Why one step: RFC 6238 §5.2 allows for clock drift and for the seconds a person takes to type,
and recommends at most one step back. Why at most once: a code read over someone's shoulder,
or phished and relayed, must not open a second door. The last accepted step is stored in the
database, and the guarded UPDATE that records it is the acceptance, so of two requests racing
with the same code on two instances only one wins.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from sqlalchemy import delete, or_, select, update

from idp.crypto.kek import Kek
from idp.models.factors import TotpFactor
from idp.models.uow import UnitOfWork

STEP = 30  # seconds: RFC 6238 §5.2's recommended time step, what every app uses by default
DIGITS = 6
DRIFT = 1  # steps accepted either side of the current one


class AlreadyEnrolled(Exception):
    """The person has a confirmed authenticator; enrolling another means removing it first."""


@dataclass(frozen=True)
class Enrolment:
    """An authenticator waiting for its first code: the secret is shown to its owner only."""

    secret: str  # base32, as apps take it when typed
    uri: str  # the otpauth:// URI the QR code holds


def _context(tenant_id: int, user_id: int) -> str:
    # Binds the sealed seed to its owner: a row copied to another user does not open.
    return f"totp:{tenant_id}:{user_id}"


def _find(uow: UnitOfWork, tenant_id: int, user_id: int) -> TotpFactor | None:
    return uow.session.scalar(
        select(TotpFactor).where(TotpFactor.tenant_id == tenant_id, TotpFactor.user_id == user_id)
    )


def is_enrolled(uow: UnitOfWork, tenant_id: int, user_id: int) -> bool:
    """A confirmed authenticator exists."""
    with uow:
        factor = _find(uow, tenant_id, user_id)
        return factor is not None and factor.confirmed_at is not None


def begin_enrolment(
    uow: UnitOfWork, kek: Kek, tenant_id: int, user_id: int, label: str, issuer_name: str
) -> Enrolment:
    """The pending authenticator, made on first call and the same one on a reload (so the QR
    code a person already scanned stays valid). Raises AlreadyEnrolled."""
    with uow:
        factor = _find(uow, tenant_id, user_id)
        if factor is not None and factor.confirmed_at is not None:
            raise AlreadyEnrolled()
        if factor is None:
            secret = pyotp.random_base32(32)  # 160 bits, RFC 4226 §4's recommended length
            sealed = kek.seal(secret.encode(), _context(tenant_id, user_id))
            uow.session.add(TotpFactor(tenant_id=tenant_id, user_id=user_id, sealed_secret=sealed))
            uow.commit()
        else:
            secret = kek.open(factor.sealed_secret, _context(tenant_id, user_id)).decode()
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=label, issuer_name=issuer_name
    )
    return Enrolment(secret, uri)


def confirm_enrolment(
    uow: UnitOfWork, kek: Kek, tenant_id: int, user_id: int, code: str, now: float | None = None
) -> bool:
    """Confirm the pending authenticator with a code it shows; True when it did."""
    return _accept(uow, kek, tenant_id, user_id, code, now, confirmed=False)


def verify_code(
    uow: UnitOfWork, kek: Kek, tenant_id: int, user_id: int, code: str, now: float | None = None
) -> bool:
    """True once for a right code of a confirmed authenticator; a replay of it is False."""
    return _accept(uow, kek, tenant_id, user_id, code, now, confirmed=True)


def remove(uow: UnitOfWork, tenant_id: int, user_id: int) -> bool:
    """Forget the person's authenticator, confirmed or not; True when there was one."""
    with uow:
        gone = uow.session.execute(
            delete(TotpFactor).where(
                TotpFactor.tenant_id == tenant_id, TotpFactor.user_id == user_id
            )
        )
        uow.commit()
        return bool(gone.rowcount)  # type: ignore[attr-defined]


def _accept(
    uow: UnitOfWork,
    kek: Kek,
    tenant_id: int,
    user_id: int,
    code: str,
    now: float | None,
    confirmed: bool,
) -> bool:
    code = "".join(code.split())
    # isascii first: str.isdigit() accepts other scripts' digits, which compare_digest refuses.
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return False
    with uow:
        factor = _find(uow, tenant_id, user_id)
        if factor is None or (factor.confirmed_at is not None) != confirmed:
            return False
        secret = kek.open(factor.sealed_secret, _context(tenant_id, user_id)).decode()
        step = _matching_step(secret, code, time.time() if now is None else now)
        if step is None:
            return False
        values: dict[str, object] = {"last_step": step}
        if not confirmed:
            values["confirmed_at"] = datetime.now(UTC)
        accepted = uow.session.execute(
            update(TotpFactor)
            .where(
                TotpFactor.id == factor.id,
                or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step),
                TotpFactor.confirmed_at.is_(None)
                if not confirmed
                else TotpFactor.confirmed_at.is_not(None),
            )
            .values(**values)
        )
        uow.commit()
        return bool(accepted.rowcount)  # type: ignore[attr-defined]


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The latest step within the drift whose code this is, compared in constant time."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int(now // STEP)
    found = None
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            found = step
    return found
