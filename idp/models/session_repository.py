"""Login sessions and consents, always looked up within one tenant (DESIGN §2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from idp.models.sessions import Consent, LoginSession

# A sign-in writes its session and never reads the row back: a Core INSERT, not the unit of
# work's flush of a new object (identity map, events, the primary key fetched).
_ADD = insert(LoginSession.__table__)


class LoginSessions:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, **values: Any) -> None:
        """A new session's row (the columns of LoginSession), in the caller's transaction."""
        self._session.execute(_ADD, values)

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
