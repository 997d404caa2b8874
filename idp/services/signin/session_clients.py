"""Which clients a login session gave codes to: recorded at each code, read when it ends.

OIDC Back-Channel Logout 1.0 §2.7 tells each client "that has a session" with us when that
session ends. Kept apart from the delivery (services/signin/backchannel.py) so that whoever ends
sessions (sign-out, "sign out everywhere") can collect what is owed without importing tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, and_, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.models.clients import Client
from idp.models.sessions import LoginSession, SessionClient
from idp.models.uow import UnitOfWork
from idp.services.oauth_clients.clients import ClientView
from idp.services.tenancy.tenants import TenantView


@dataclass(frozen=True)
class LogoutNotice:
    """One logout token owed: the client to tell, and whose session ended."""

    client: ClientView
    subject: str
    sid: str


class LogoutQueue(Protocol):
    """Where ended sessions' logout tokens go (services/signin/backchannel.py sends them)."""

    def queue(
        self, session: Session, issuer: str, tenant: TenantView, notices: Sequence[LogoutNotice]
    ) -> None:
        """Queue them in the caller's transaction."""

    def wake(self) -> None:
        """After the commit: have them sent now."""


# A code is issued on every sign-in: the session's id and whether the client is already
# recorded for it come in one SELECT, built once on the tables (no object is loaded, so the
# ORM's execution path would only add work); the row is written without the unit of work.
_SESSIONS, _RECORDED = LoginSession.__table__.c, SessionClient.__table__.c
_SESSION_AND_CLIENT = (
    select(_SESSIONS.id, _RECORDED.id)
    .outerjoin(
        SessionClient.__table__,
        and_(
            _RECORDED.login_session_id == _SESSIONS.id,
            _RECORDED.client_id == bindparam("client"),
        ),
    )
    .where(_SESSIONS.tenant_id == bindparam("tenant"), _SESSIONS.sid == bindparam("sid"))
)
_RECORD = insert(SessionClient)


def record_session_client(uow: UnitOfWork, tenant_id: int, sid: str, client_id: str) -> None:
    """Remember that the session `sid` gave `client_id` a code: it is told when the session ends.

    Idempotent: a second code for the same client finds the row already there, and two codes at
    once are settled by the unique (session, client) constraint.
    """
    with uow:
        row = uow.session.execute(
            _SESSION_AND_CLIENT, {"tenant": tenant_id, "sid": sid, "client": client_id}
        ).first()
        if row is None or row[1] is not None:
            return
        # A concurrent code for the same client may have recorded it first: that is as good
        # (the unit of work rolls the failed transaction back).
        with suppress(IntegrityError):
            uow.session.execute(_RECORD, {"login_session_id": row[0], "client_id": client_id})
            uow.commit()


def notices_for(
    uow: UnitOfWork, tenant_id: int, subject: str, sessions: ColumnElement[bool]
) -> list[LogoutNotice]:
    """The logout tokens owed for the sessions `sessions` selects, in the caller's transaction.

    Must run before those sessions are deleted: their `SessionClient` rows go with them
    (ON DELETE CASCADE). Only clients with a `backchannel_logout_uri` are owed anything (§2.2).
    """
    rows = uow.session.execute(
        select(LoginSession.sid, Client)
        .join(SessionClient, SessionClient.login_session_id == LoginSession.id)
        .join(
            Client,
            and_(Client.tenant_id == tenant_id, Client.client_id == SessionClient.client_id),
        )
        .where(
            LoginSession.tenant_id == tenant_id,
            sessions,
            Client.backchannel_logout_uri.is_not(None),
        )
        .order_by(SessionClient.id)
    ).all()
    return [LogoutNotice(ClientView.of(client), subject, sid) for sid, client in rows]
