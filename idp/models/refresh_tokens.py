"""Refresh tokens (DESIGN §5): one row per issued token, grouped in families, by digest only.

A family is everything rotated from one authorization code. Rows of spent tokens are kept until
the family expires: presenting one of them again is how theft is noticed (RFC 9700 §4.14.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    ForeignKey,
    String,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.models.base import Base, utcnow
from idp.models.users import User


class RefreshToken(Base):
    """One refresh token. Only its SHA-256 digest is stored (DESIGN §6); a copy of this table
    cannot be replayed. `used_at` is set once, by the one request that rotated it."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The scope originally granted: every token of the family carries it (RFC 6749 §6).
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The login session the grant came from; a family that is not `offline` ends with it.
    sid: Mapped[str] = mapped_column(String(64), index=True)
    auth_time: Mapped[datetime]
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Claims the authorization request asked for by name (OIDC Core §5.5), as ClaimsRequest's
    # JSON form: tokens from a refresh release what the first ones did.
    claims: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    offline: Mapped[bool] = mapped_column(default=False)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Absolute lifetime, from the family's first token and never extended.
    family_expires_at: Mapped[datetime]
    # Idle lifetime: this token is dead if not used by then.
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Whom it was rotated into: a retry within the grace window is honoured only while the
    # successor itself is unused.
    successor_digest: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    # The access token issued with this refresh token, revoked with the family.
    access_token_jti: Mapped[str | None] = mapped_column(String(64))
    access_token_expires_at: Mapped[datetime | None]


# The statements of a rotation, built once: building them per request was ~10 % of a refresh's
# CPU (SQLAlchemy's compiled cache still needs the expression built to find its entry).
# The presented token's state is read on the tables, not as a RefreshToken object: the row is
# copied into a RefreshTokenState at once, so the ORM's loading only added work (~0.3 ms of a
# refresh). It and the successor's INSERT run on the session's connection, in its transaction.
_tokens = RefreshToken.__table__.c
_people = User.__table__.c
_STATE = (
    select(
        _tokens.token_digest,
        _tokens.family_id,
        _tokens.client_id,
        _tokens.user_id,
        _people.subject,
        _people.active.label("user_active"),
        _tokens.scopes,
        _tokens.sid,
        _tokens.auth_time,
        _tokens.amr,
        _tokens.claims,
        _tokens.offline,
        _tokens.issued_at,
        _tokens.family_expires_at,
        _tokens.expires_at,
        _tokens.used_at,
        _tokens.successor_digest,
        _tokens.revoked_at,
    )
    .join_from(RefreshToken.__table__, User.__table__, _people.id == _tokens.user_id)
    .where(
        _tokens.tenant_id == bindparam("tenant_id"),
        _tokens.token_digest == bindparam("token_digest"),
        _people.tenant_id == bindparam("tenant_id"),
    )
)
# A Core UPDATE on the session's connection: the ORM's bulk UPDATE (its compile state, session
# synchronisation, events) was an eighth of a refresh's Python time, for a row never read back.
_CLAIM = (
    update(RefreshToken.__table__)
    .where(
        _tokens.tenant_id == bindparam("tenant"),
        _tokens.token_digest == bindparam("presented"),
        _tokens.used_at.is_(None),
        _tokens.revoked_at.is_(None),
    )
    .values(used_at=bindparam("now"), successor_digest=bindparam("successor"))
)
# A Core INSERT: the successor is never read back through the session, so the unit of work's
# flush (identity map, events, the primary key fetched) is work for nothing.
_INSERT = insert(RefreshToken.__table__)
# The first token of a family, with its person's row id read by the same statement (INSERT ...
# SELECT): no row is written when the person is gone, and no round trip is spent reading the id.
_FAMILY_COLUMNS = [
    column.name for column in RefreshToken.__table__.columns if column.name not in ("id", "user_id")
]
# RETURNING says whether a row was written: psycopg reports no row count for INSERT ... SELECT.
_INSERT_FIRST = (
    insert(RefreshToken.__table__)
    .from_select(
        [*_FAMILY_COLUMNS, "user_id"],
        select(
            *(bindparam(name, type_=_tokens[name].type) for name in _FAMILY_COLUMNS), _people.id
        ).where(
            _people.tenant_id == bindparam("tenant_id"), _people.subject == bindparam("subject")
        ),
    )
    .returning(_tokens.id)
)


@dataclass(frozen=True)
class RefreshTokenState:
    """A refresh token as read, with its person's `sub` and whether they may sign in.

    `expires_at` is the earlier of the idle and absolute expiry.
    """

    token_digest: str
    family_id: str
    client_id: str
    user_id: int
    subject: str
    user_active: bool
    scopes: tuple[str, ...]
    sid: str
    auth_time: datetime
    amr: tuple[str, ...]
    claims: dict[str, Any]
    offline: bool
    issued_at: datetime
    family_expires_at: datetime
    expires_at: datetime
    used_at: datetime | None
    successor_digest: str | None
    revoked_at: datetime | None


def read_state(
    connection: Connection, tenant_id: int, token_digest: str
) -> RefreshTokenState | None:
    """The token and the state of the person it was issued to, as read on `connection`."""
    token = connection.execute(
        _STATE, {"tenant_id": tenant_id, "token_digest": token_digest}
    ).first()
    if token is None:
        return None
    return RefreshTokenState(
        token_digest=token.token_digest,
        family_id=token.family_id,
        client_id=token.client_id,
        user_id=token.user_id,
        subject=token.subject,
        user_active=token.user_active,
        scopes=tuple(token.scopes),
        sid=token.sid,
        auth_time=token.auth_time,
        amr=tuple(token.amr),
        claims=dict(token.claims),
        offline=token.offline,
        issued_at=token.issued_at,
        family_expires_at=token.family_expires_at,
        expires_at=min(token.expires_at, token.family_expires_at),
        used_at=token.used_at,
        successor_digest=token.successor_digest,
        revoked_at=token.revoked_at,
    )


class RefreshTokens:
    """Refresh token rows, always within one tenant (DESIGN §2)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, **values: Any) -> None:
        """A row written without the unit of work (see _INSERT): the caller keeps no object."""
        self._session.connection().execute(_INSERT, values)

    def insert_first(self, subject: str, **values: Any) -> bool:
        """A family's first token, for the person `subject` names at the row's tenant (see
        _INSERT_FIRST); False, and nothing written, when there is no such person."""
        written = self._session.connection().execute(_INSERT_FIRST, {**values, "subject": subject})
        return written.first() is not None

    def state(self, tenant_id: int, token_digest: str) -> RefreshTokenState | None:
        """The token and the state of the person it was issued to, detached from the session."""
        return read_state(self._session.connection(), tenant_id, token_digest)

    def by_digest(self, tenant_id: int, token_digest: str) -> RefreshToken | None:
        return self._session.scalar(
            select(RefreshToken).where(
                RefreshToken.tenant_id == tenant_id, RefreshToken.token_digest == token_digest
            )
        )

    def claim(
        self, tenant_id: int, token_digest: str, successor_digest: str, now: datetime
    ) -> bool:
        """Mark the token used, if nobody has: one guarded UPDATE, so of concurrent callers
        exactly one gets True (the database serialises the writes to the row)."""
        result = self._session.connection().execute(
            _CLAIM,
            {
                "tenant": tenant_id,
                "presented": token_digest,
                "now": now,
                "successor": successor_digest,
            },
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def revoke_families(self, tenant_id: int, family_ids: Sequence[str], now: datetime) -> None:
        if family_ids:
            self._session.execute(
                update(RefreshToken)
                .where(
                    RefreshToken.tenant_id == tenant_id,
                    RefreshToken.family_id.in_(family_ids),
                    RefreshToken.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )

    def live_families(
        self,
        tenant_id: int,
        *,
        user_id: int | None = None,
        sid: str | None = None,
        offline: bool | None = None,
        client_id: str | None = None,
    ) -> list[str]:
        """Ids of unrevoked families of a person, or of a login session, or of one client."""
        query = select(RefreshToken.family_id).where(
            RefreshToken.tenant_id == tenant_id, RefreshToken.revoked_at.is_(None)
        )
        if user_id is not None:
            query = query.where(RefreshToken.user_id == user_id)
        if sid is not None:
            query = query.where(RefreshToken.sid == sid)
        if offline is not None:
            query = query.where(RefreshToken.offline == offline)
        if client_id is not None:
            query = query.where(RefreshToken.client_id == client_id)
        return list(self._session.scalars(query.distinct()))

    def access_tokens_of(
        self, tenant_id: int, family_ids: Sequence[str], now: datetime
    ) -> list[tuple[str, datetime]]:
        """`jti` and expiry of the unexpired access tokens issued with these families."""
        if not family_ids:
            return []
        rows = self._session.execute(
            select(RefreshToken.access_token_jti, RefreshToken.access_token_expires_at).where(
                RefreshToken.tenant_id == tenant_id,
                RefreshToken.family_id.in_(family_ids),
                RefreshToken.access_token_jti.is_not(None),
                RefreshToken.access_token_expires_at > now,
            )
        )
        return [(jti, expires) for jti, expires in rows if jti and expires]

    def purge_expired(self, tenant_id: int, now: datetime) -> int:
        """Delete the rows of families past their absolute lifetime: none of their tokens can
        be used again, so nothing is left to detect reuse of. Returns how many went."""
        result = self._session.execute(
            delete(RefreshToken)
            .where(RefreshToken.tenant_id == tenant_id, RefreshToken.family_expires_at < now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
