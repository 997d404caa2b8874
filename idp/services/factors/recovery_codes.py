"""Recovery codes (issue 10 §1): ten single-use secrets for the day the authenticator is lost.

They are secrets like any other we issue (DESIGN §6): 256 random bits behind a recognisable
prefix, shown once, stored only as SHA-256 digests. A new set replaces the old one entirely,
so a printed sheet that went missing is void after "regenerate". Spending one is a guarded
UPDATE, so a code raced on two instances opens one door.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update

from idp.crypto.secrets import digest, new_secret
from idp.models.factors import RecoveryCode
from idp.models.uow import UnitOfWork

PREFIX = "idp_rc_"
COUNT = 10
MAX_CODE = 100


def issue_codes(uow: UnitOfWork, tenant_id: int, user_id: int) -> list[str]:
    """A new set of codes, voiding the old ones: the only time they exist in clear."""
    codes = [new_secret(PREFIX) for _ in range(COUNT)]
    with uow:
        uow.session.execute(
            delete(RecoveryCode).where(
                RecoveryCode.tenant_id == tenant_id, RecoveryCode.user_id == user_id
            )
        )
        uow.session.add_all(
            RecoveryCode(tenant_id=tenant_id, user_id=user_id, code_digest=digest(code))
            for code in codes
        )
        uow.commit()
    return codes


def looks_like_code(text: str) -> bool:
    """Whether what was typed is meant as a recovery code rather than a TOTP code."""
    return text.strip().startswith(PREFIX)


def use_code(uow: UnitOfWork, tenant_id: int, user_id: int, code: str) -> bool:
    """Spend one unused code of this person; True when it was one."""
    code = code.strip()
    if not code.startswith(PREFIX) or len(code) > MAX_CODE:
        return False
    # Looked up by digest: the digest of a 256-bit secret reveals nothing by its timing.
    with uow:
        spent = uow.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.tenant_id == tenant_id,
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_digest == digest(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=datetime.now(UTC))
        )
        uow.commit()
        return bool(spent.rowcount)  # type: ignore[attr-defined]


def remaining(uow: UnitOfWork, tenant_id: int, user_id: int) -> int:
    with uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(
                    RecoveryCode.tenant_id == tenant_id,
                    RecoveryCode.user_id == user_id,
                    RecoveryCode.used_at.is_(None),
                )
            )
            or 0
        )


def remove_codes(uow: UnitOfWork, tenant_id: int, user_id: int) -> bool:
    """Delete every code of the person; True when there were some."""
    with uow:
        gone = uow.session.execute(
            delete(RecoveryCode).where(
                RecoveryCode.tenant_id == tenant_id, RecoveryCode.user_id == user_id
            )
        )
        uow.commit()
        return bool(gone.rowcount)  # type: ignore[attr-defined]
