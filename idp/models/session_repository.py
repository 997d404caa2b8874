"""Login sessions and consents, always looked up within one tenant (DESIGN §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from idp.models.sessions import Consent, LoginSession
from idp.models.users import User

# Every hosted page and every authorization request reads the cookie's session: one SELECT,
# built once, of the columns the caller needs and the two things of its person it needs (not
# the person with roles). Built on the tables, not the mapped classes: nothing is loaded as an
# object, so SQLAlchemy's ORM execution path would only add work (~30 % of this read).
_SESSIONS, _USERS = LoginSession.__table__.c, User.__table__.c
_LIVE = (
    select(
        _SESSIONS.id,
        _SESSIONS.sid,
        _SESSIONS.user_id,
        _SESSIONS.auth_time,
        _SESSIONS.amr,
        _SESSIONS.last_seen_at,
        _USERS.subject,
        _USERS.active,
    )
    .join(User.__table__, _USERS.id == _SESSIONS.user_id)
    .where(
        _SESSIONS.tenant_id == bindparam("tenant"),
        _SESSIONS.cookie_digest == bindparam("cookie"),
        _SESSIONS.expires_at > bindparam("now"),
        _USERS.tenant_id == bindparam("tenant"),
    )
)


class LiveSession(NamedTuple):
    """An unexpired session as a page reads it, with its person's `sub` and active flag."""

    id: int
    sid: str
    user_id: int
    auth_time: datetime
    amr: list[str]
    last_seen_at: datetime | None
    subject: str
    active: bool


# A sign-in writes its session and never reads the row back: a Core INSERT, not the unit of
# work's flush of a new object (identity map, events, the primary key fetched).
_ADD = insert(LoginSession.__table__)


class LoginSessions:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, **values: Any) -> None:
        """A new session's row (the columns of LoginSession), in the caller's transaction."""
        self._session.execute(_ADD, values)

    def live(self, tenant_id: int, cookie_digest: str, now: datetime) -> LiveSession | None:
        """The unexpired session, with its person's `sub` and whether they are active."""
        row = self._session.execute(
            _LIVE, {"tenant": tenant_id, "cookie": cookie_digest, "now": now}
        ).first()
        return None if row is None else LiveSession(*row)

    def remove_all_of(self, tenant_id: int, user_id: int, keep_sid: str | None = None) -> None:
        """Every session of the user, except the one `keep_sid` names."""
        query = delete(LoginSession).where(
            LoginSession.tenant_id == tenant_id, LoginSession.user_id == user_id
        )
        if keep_sid is not None:
            query = query.where(LoginSession.sid != keep_sid)
        self._session.execute(query)

    def remove(self, tenant_id: int, cookie_digest: str) -> None:
        self._session.execute(
            delete(LoginSession).where(
                LoginSession.tenant_id == tenant_id, LoginSession.cookie_digest == cookie_digest
            )
        )


class Consents:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, tenant_id: int, user_id: int, client_id: str) -> Consent | None:
        return self._session.scalar(
            select(Consent).where(
                Consent.tenant_id == tenant_id,
                Consent.user_id == user_id,
                Consent.client_id == client_id,
            )
        )

    def add(self, consent: Consent) -> Consent:
        self._session.add(consent)
        self._session.flush()
        return consent
