"""Reads and writes of the durable revocation records (models/revocations.py).

The read is on the hot path of introspection and userinfo whenever the store cannot answer for
it (the embedded SQL store, or a Redis that lost its contents), so it is one statement run as a
CompiledRead (models/raw_reads.py), like the SQL store's `get`: one round trip, no ORM session,
no transaction. Writes are single statements that are idempotent, so a
client retrying a revocation after a 503 records it exactly once.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, delete, func, select
from sqlalchemy.exc import DBAPIError

from idp.models.db import upsert_insert
from idp.models.raw_reads import CompiledRead
from idp.models.revocations import RevokedAccessToken, SubjectRevocation, UsedClientAssertion

# Expired rows are purged by roughly one write in PURGE_ONE_IN, as the SQL store does.
PURGE_ONE_IN = 200

log = logging.getLogger(__name__)

_tokens = RevokedAccessToken.__table__
_subjects = SubjectRevocation.__table__
_STATE = select(
    select(_tokens.c.jti)
    .where(
        _tokens.c.tenant_id == bindparam("tenant_id"),
        _tokens.c.jti == bindparam("jti"),
        _tokens.c.expires_at > bindparam("now"),
    )
    .exists()
    .label("jti_revoked"),
    select(_subjects.c.revoked_before)
    .where(
        _subjects.c.tenant_id == bindparam("tenant_id"),
        _subjects.c.subject == bindparam("subject"),
        _subjects.c.expires_at > bindparam("now"),
    )
    .scalar_subquery()
    .label("revoked_before"),
)


@dataclass(frozen=True)
class RevocationState:
    """What the records say about one token: its own revocation, and its person's cutoff."""

    jti_revoked: bool
    revoked_before: float | None


@dataclass(frozen=True)
class LiveRevocation:
    """One unexpired record, as the store caches it."""

    tenant_id: int
    jti: str | None  # a revoked token's id, or None for a person's cutoff
    subject: str | None
    revoked_before: float | None
    expires_at: float


class RevocationRecords:
    def __init__(self, engine: Engine, purge_one_in: int = PURGE_ONE_IN) -> None:
        self._engine = engine
        self._purge_one_in = purge_one_in
        self._insert = upsert_insert(engine.dialect.name)
        self._state = CompiledRead(engine, _STATE)

    def state(self, tenant_id: int, jti: str, subject: str | None, now: float) -> RevocationState:
        """One round trip; a token without a person (`subject` None) has no cutoff."""
        row = self._state.first(
            {"tenant_id": tenant_id, "jti": jti, "subject": subject or "", "now": now}
        )
        jti_revoked, revoked_before = row if row else (False, None)
        cutoff = float(revoked_before) if revoked_before is not None and subject else None
        return RevocationState(bool(jti_revoked), cutoff)

    def revoke_token(self, tenant_id: int, jti: str, expires_at: float) -> None:
        statement = self._insert(RevokedAccessToken).values(
            tenant_id=tenant_id, jti=jti, expires_at=expires_at
        )
        self._write(statement.on_conflict_do_nothing())

    def revoke_before(
        self, tenant_id: int, subject: str, instant: float, expires_at: float
    ) -> None:
        """Void the person's tokens issued at or before `instant`; an earlier cutoff already
        recorded moves forward, a later one stays (two revocations never undo each other)."""
        statement = self._insert(SubjectRevocation).values(
            tenant_id=tenant_id, subject=subject, revoked_before=instant, expires_at=expires_at
        )
        greatest = func.max if self._engine.dialect.name == "sqlite" else func.greatest
        statement = statement.on_conflict_do_update(
            index_elements=[SubjectRevocation.tenant_id, SubjectRevocation.subject],
            set_={
                "revoked_before": greatest(
                    SubjectRevocation.revoked_before, statement.excluded.revoked_before
                ),
                "expires_at": greatest(SubjectRevocation.expires_at, statement.excluded.expires_at),
            },
        )
        self._write(statement)

    def use_assertion(self, tenant_id: int, client_id: str, jti: str, expires_at: float) -> bool:
        """Record a client assertion's `jti`; False when it was recorded already and is still
        live (a replay, RFC 7523 §3 item 7). One atomic statement: of concurrent uses, one wins."""
        now = _now()
        statement = self._insert(UsedClientAssertion).values(
            tenant_id=tenant_id, client_id=client_id, jti=jti, expires_at=expires_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[
                UsedClientAssertion.tenant_id,
                UsedClientAssertion.client_id,
                UsedClientAssertion.jti,
            ],
            set_={"expires_at": statement.excluded.expires_at},
            where=UsedClientAssertion.expires_at <= now,
        ).returning(UsedClientAssertion.jti)
        return self._write(statement) is not None

    def live(self, now: float) -> list[LiveRevocation]:
        """Every record that still refuses something, for warming the store's cache."""
        found: list[LiveRevocation] = []
        with self._engine.connect() as connection:
            tokens = connection.execute(
                select(_tokens.c.tenant_id, _tokens.c.jti, _tokens.c.expires_at).where(
                    _tokens.c.expires_at > now
                )
            )
            for tenant_id, jti, expires_at in tokens:
                found.append(LiveRevocation(tenant_id, jti, None, None, expires_at))
            subjects = connection.execute(
                select(
                    _subjects.c.tenant_id,
                    _subjects.c.subject,
                    _subjects.c.revoked_before,
                    _subjects.c.expires_at,
                ).where(_subjects.c.expires_at > now)
            )
            for tenant_id, subject, revoked_before, expires_at in subjects:
                found.append(LiveRevocation(tenant_id, None, subject, revoked_before, expires_at))
        return found

    def _write(self, statement: object) -> str | None:
        with self._engine.begin() as connection:
            result = connection.execute(statement)  # type: ignore[call-overload]
            value = result.scalar() if result.returns_rows else None
        if random.randrange(self._purge_one_in) == 0:  # noqa: S311 - load spreading, not security
            self.purge()
        return value

    def purge(self) -> None:
        """Delete the records that refuse nothing any more, in a transaction of their own."""
        now = _now()
        try:
            with self._engine.begin() as connection:
                for model in (RevokedAccessToken, SubjectRevocation, UsedClientAssertion):
                    connection.execute(delete(model).where(model.expires_at <= now))
        except DBAPIError:
            log.info("revocation purge skipped after a concurrent write", exc_info=True)


def _now() -> float:
    return time.time()
