"""`idp users factors` and `idp users reset-mfa` (issue 10 §4): the help desk sees a person's
second factors and removes them, audited, through the real console script on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from idp.crypto.secrets import digest, new_secret
from idp.models.db import make_engine, make_session_factory
from idp.models.factors import RecoveryCode, TotpFactor
from idp.models.passkeys import Passkey
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.audit import AuditFilter, page_events
from tests.support.cli import Installation


def enrolled_user(install: Installation, tenant: str, email: str) -> None:
    """A user whose TOTP and ten recovery codes are in the database (one code used)."""
    install.json(
        "users", "create", "--tenant", tenant, "--email", email,
        "--password", "correct horse battery",
    )  # fmt: skip
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    with make_session_factory(engine)() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        now = datetime.now(UTC)
        session.add(
            TotpFactor(
                tenant_id=user.tenant_id, user_id=user.id, sealed_secret=b"x", confirmed_at=now
            )
        )
        for number in range(10):
            session.add(
                RecoveryCode(
                    tenant_id=user.tenant_id,
                    user_id=user.id,
                    code_digest=digest(new_secret("idp_rc_")),
                    used_at=now if number == 0 else None,
                )
            )
        session.commit()
    engine.dispose()


def audited(install: Installation, action: str) -> list[str]:
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    uow = UnitOfWork(make_session_factory(engine))
    events = page_events(uow, None, True, AuditFilter(action=action), None, 50).items
    engine.dispose()
    return [event.actor for event in events]


def test_factors_are_listed_without_secrets(install: Installation, tenant: str):
    enrolled_user(install, tenant, "lister@example.com")
    listed = install.json("users", "factors", "--tenant", tenant, "lister@example.com")
    assert [factor["type"] for factor in listed] == ["totp", "recovery_codes"]
    assert listed[0]["confirmed"] is True and listed[1]["remaining"] == 9
    assert "secret" not in str(listed) and "idp_rc_" not in str(listed)
    text = install.run("users", "factors", "--tenant", tenant, "lister@example.com")
    assert text.code == 0 and "totp" in text.stdout


def test_reset_mfa_removes_every_factor_and_is_audited(install: Installation, tenant: str):
    enrolled_user(install, tenant, "lost.phone@example.com")
    done = install.json("users", "reset-mfa", "--tenant", tenant, "lost.phone@example.com")
    assert done == {"email": "lost.phone@example.com", "removed": "all"}
    assert install.json("users", "factors", "--tenant", tenant, "lost.phone@example.com") == []
    assert audited(install, "user.mfa_reset")


def test_one_factor_can_be_removed(install: Installation, tenant: str):
    enrolled_user(install, tenant, "codes.gone@example.com")
    install.json(
        "users", "reset-mfa", "--tenant", tenant, "codes.gone@example.com",
        "--factor", "recovery_codes",
    )  # fmt: skip
    left = install.json("users", "factors", "--tenant", tenant, "codes.gone@example.com")
    assert [factor["type"] for factor in left] == ["totp"]
    again = install.run(
        "users", "reset-mfa", "--tenant", tenant, "codes.gone@example.com",
        "--factor", "recovery_codes",
    )  # fmt: skip
    assert again.code == 1 and again.stderr.startswith("error: ")


def test_passkeys_are_listed_and_removed(install: Installation, tenant: str):
    enrolled_user(install, tenant, "passkeys@example.com")
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    with make_session_factory(engine)() as session:
        user = session.scalars(select(User).where(User.email == "passkeys@example.com")).one()
        session.add(
            Passkey(
                tenant_id=user.tenant_id,
                user_id=user.id,
                name="Laptop",
                credential_id=b"credential",
                public_key=b"key",
                sign_count=0,
                transports=["internal"],
                user_verified=True,
                backup_eligible=False,
            )
        )
        session.commit()
    engine.dispose()
    listed = install.json("users", "factors", "--tenant", tenant, "passkeys@example.com")
    assert [(factor["type"], factor.get("name")) for factor in listed][-1] == ("passkey", "Laptop")
    install.json(
        "users", "reset-mfa", "--tenant", tenant, "passkeys@example.com", "--factor", "passkey",
    )  # fmt: skip
    left = install.json("users", "factors", "--tenant", tenant, "passkeys@example.com")
    assert [factor["type"] for factor in left] == ["totp", "recovery_codes"]
